/* signet-signup landing-page script: no dependencies, no build step, no inline code.
 * Without it every form still works: it posts, and the server answers with a page.
 * With it, a form marked data-signup is sent with fetch() and answered in place, and a
 * confirm form marked data-autosubmit is pressed for the visitor.
 * The texts it shows come from the form's data-msg-* attributes (localised by the server);
 * the kit for every language also carries each locale's texts (data-i18n), and the script
 * shows the visitor's (their browser's, or the host page's lang) and sends that locale. */
(function () {
  "use strict";

  function solveAltcha(url) {
    // ALTCHA proof-of-work (v1): find n with SHA-256(salt + n) == challenge.
    return fetch(url, { credentials: "omit" }).then(function (res) {
      if (!res.ok) throw new Error("no challenge");
      return res.json();
    }).then(async function (c) {
      var enc = new TextEncoder();
      for (var n = 0; n <= c.maxNumber; n++) {
        var digest = await crypto.subtle.digest("SHA-256", enc.encode(c.salt + n));
        var hex = Array.from(new Uint8Array(digest), function (b) {
          return b.toString(16).padStart(2, "0");
        }).join("");
        if (hex === c.challenge) {
          return btoa(JSON.stringify({ algorithm: c.algorithm, challenge: c.challenge,
                                       number: n, salt: c.salt, signature: c.signature }));
        }
      }
      throw new Error("no solution");
    });
  }

  function fieldError(form, name) {
    var input = form.elements[name];
    var note = input && input.id ? document.getElementById(input.id + "-error") : null;
    return { input: input && input.nodeType ? input : null, note: note };
  }

  function clearErrors(form) {
    Array.prototype.forEach.call(form.querySelectorAll("[aria-invalid]"), function (input) {
      input.removeAttribute("aria-invalid");
      input.removeAttribute("aria-describedby");
    });
    Array.prototype.forEach.call(form.querySelectorAll(".field-error"), function (note) {
      note.textContent = "";
      note.hidden = true;
    });
  }

  function say(status, text, isError) {
    status.textContent = text;
    status.className = isError ? "message error" : "message";
    status.setAttribute("role", isError ? "alert" : "status");
  }

  function pick(catalogues, tags) {
    // The first tag we have texts for, whole ("de-at") or by its language ("de").
    for (var i = 0; i < tags.length; i++) {
      var tag = String(tags[i] || "").toLowerCase().replace("_", "-");
      if (catalogues[tag]) return tag;
      if (catalogues[tag.split("-")[0]]) return tag.split("-")[0];
    }
    return null;
  }

  function localise(form) {
    // The kit for every language (data-i18n): show the visitor's texts and send their locale.
    if (!form.dataset.i18n || form.elements.locale.value) return;
    var catalogues = JSON.parse(form.dataset.i18n);
    var tags = form.dataset.locale === "page"
      ? [document.documentElement.lang]
      : (navigator.languages && navigator.languages.length ? navigator.languages : [navigator.language]);
    var chosen = pick(catalogues, tags);
    if (!chosen) return;  // none of ours: the server answers in its default language
    var texts = catalogues[chosen];
    form.elements.locale.value = chosen;
    form.setAttribute("lang", chosen);
    Array.prototype.forEach.call(form.querySelectorAll("[data-t]"), function (node) {
      if (texts[node.dataset.t]) node.textContent = texts[node.dataset.t];
    });
    ["sending", "robot", "done", "network"].forEach(function (name) {
      var key = "msg" + name.charAt(0).toUpperCase() + name.slice(1);
      if (texts["form." + name]) form.dataset[key] = texts["form." + name];
    });
  }

  function enhance(form) {
    localise(form);
    var status = form.querySelector("[data-status]");
    var button = form.querySelector("button[type=submit], button:not([type])");
    var msg = form.dataset;
    form.addEventListener("submit", async function (event) {
      // A button that posts elsewhere (Join with GitHub) takes the plain way there.
      if (event.submitter && event.submitter.hasAttribute("formaction")) return;
      event.preventDefault();
      if (button.disabled) return;
      clearErrors(form);
      button.disabled = true;
      form.setAttribute("aria-busy", "true");
      try {
        if (msg.altcha) {
          say(status, msg.msgRobot, false);
          try { form.elements.altcha.value = await solveAltcha(msg.altcha); }
          catch (e) { /* the server refuses the empty answer and says so */ }
        }
        say(status, msg.msgSending, false);
        var body = Object.fromEntries(new FormData(form));
        if (!body.locale) body.locale = navigator.language;
        var email = String(body.email || "").trim();
        var res;
        try {
          res = await fetch(form.action, {
            method: "POST",
            credentials: "omit",
            headers: { "Content-Type": "application/json", "Accept": "application/json" },
            body: JSON.stringify(body)
          });
        } catch (e) {
          // No answer we may read (offline, or this site is not allowed to ask): post the
          // form the plain way, and the server answers with a page that says what happened.
          HTMLFormElement.prototype.submit.call(form);
          return;
        }
        var data = await res.json();
        if (res.ok) {
          // The address, repeated, so a typo shows before the visitor waits for a mail.
          say(status, "", false);
          var parts = msg.msgDone.split("{email}");
          var shown = document.createElement("strong");
          shown.textContent = email;
          status.append(parts[0], shown, parts.slice(1).join(email));
          form.reset();
          return;
        }
        var first = null;
        (data.errors || []).forEach(function (e) {
          var f = fieldError(form, e.field);
          if (!f.input || !f.note) return;
          f.note.textContent = e.detail;
          f.note.hidden = false;
          f.input.setAttribute("aria-invalid", "true");
          f.input.setAttribute("aria-describedby", f.note.id);
          first = first || f.input;
        });
        if (first) {
          say(status, "", false);
          first.focus();
        } else {
          say(status, data.detail || msg.msgNetwork, true);
        }
      } catch (e) {
        say(status, msg.msgNetwork, true);
      } finally {
        button.disabled = false;
        form.removeAttribute("aria-busy");
      }
    });
  }

  Array.prototype.forEach.call(document.querySelectorAll("form[data-signup]"), enhance);
  var auto = document.querySelector("form[data-autosubmit]");
  if (auto) auto.submit();
})();
