"""The landing-page kit: the signup form and script a static site embeds, and the very files the
built-in page serves. Installed as the package `signup_api.kit` (see pyproject.toml) so the
service finds them; README.md here tells a site owner how to use them."""
