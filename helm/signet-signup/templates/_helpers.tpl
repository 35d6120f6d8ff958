{{/* Names and labels shared by every template. */}}

{{- define "signet-signup.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "signet-signup.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "signet-signup.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{ include "signet-signup.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: signet-signup
{{- end }}

{{- define "signet-signup.selectorLabels" -}}
app.kubernetes.io/name: {{ include "signet-signup.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/* Selector labels of one component: api, worker or migrate. */}}
{{- define "signet-signup.componentLabels" -}}
{{ include "signet-signup.selectorLabels" .root }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{- define "signet-signup.image" -}}
{{- $tag := default .Chart.AppVersion .Values.image.tag }}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository $tag }}
{{- end }}
{{- end }}

{{- define "signet-signup.tlsSecret" -}}
{{- default (printf "%s-tls" (include "signet-signup.fullname" .)) .Values.ingress.tls.secretName }}
{{- end }}

{{/* The settings every container gets: plain values, then each secret key as a file. */}}
{{- define "signet-signup.env" -}}
{{- range $name := keys .Values.config | sortAlpha }}
- name: {{ $name }}
  value: {{ index $.Values.config $name | toString | quote }}
{{- end }}
{{- range $key := .Values.secrets.keys }}
- name: {{ $key }}_FILE
  value: /var/run/secrets/signet-signup/{{ $key }}
{{- end }}
{{- end }}

{{/* The admin listener's settings (API pods only); tokens verified as admin.* says. */}}
{{- define "signet-signup.adminEnv" -}}
{{- $a := .Values.admin }}
{{- if $a.enabled }}
{{- if not (or $a.jwks.url $a.jwks.secretKey $a.keysSecret.name) }}
{{- fail "admin.enabled needs admin.jwks.url, admin.jwks.secretKey or admin.keysSecret.name" }}
{{- end }}
{{- if and (or $a.jwks.url $a.jwks.secretKey) (not $a.issuer) }}
{{- fail "admin.jwks needs admin.issuer (the identity provider's iss)" }}
{{- end }}
{{- if and $a.jwks.url .Values.networkPolicy.enabled (not $a.jwks.egress.cidrs) }}
{{- fail "admin.jwks.url needs admin.jwks.egress.cidrs: the NetworkPolicy allows no other egress" }}
{{- end }}
- name: SIGNUP_ADMIN_PORT
  value: {{ $a.port | quote }}
- name: SIGNUP_ADMIN_JWT_AUDIENCE
  value: {{ $a.audience | quote }}
{{- if $a.jwks.url }}
- name: SIGNUP_ADMIN_JWKS
  value: {{ $a.jwks.url | quote }}
{{- else if $a.jwks.secretKey }}
- name: SIGNUP_ADMIN_JWKS
  value: /var/run/secrets/signet-signup/{{ $a.jwks.secretKey }}
{{- end }}
{{- with $a.issuer }}
- name: SIGNUP_ADMIN_JWT_ISSUER
  value: {{ . | quote }}
{{- end }}
{{- if $a.keysSecret.name }}
- name: SIGNUP_ADMIN_KEYS_FILE
  value: /var/run/secrets/signet-signup-admin/{{ $a.keysSecret.key }}
{{- end }}
{{- with $a.tokenIssuer }}
- name: SIGNUP_ADMIN_TOKEN_ISSUER
  value: {{ . | quote }}
{{- end }}
{{- end }}
{{- end }}

{{- define "signet-signup.volumes" -}}
- name: secrets
  secret:
    secretName: {{ .Values.secrets.name }}
    defaultMode: 0440
- name: tmp
  emptyDir:
    medium: Memory
    sizeLimit: 64Mi
{{- end }}

{{- define "signet-signup.volumeMounts" -}}
- name: secrets
  mountPath: /var/run/secrets/signet-signup
  readOnly: true
- name: tmp
  mountPath: /tmp
{{- end }}

{{/* Pod-level settings shared by the API, the worker and the migration Job. */}}
{{- define "signet-signup.podCommon" -}}
automountServiceAccountToken: false
securityContext:
  {{- toYaml .Values.podSecurityContext | nindent 2 }}
{{- with .Values.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end }}

{{- define "signet-signup.topologySpread" -}}
topologySpreadConstraints:
  {{- range $key := list "kubernetes.io/hostname" "topology.kubernetes.io/zone" }}
  - maxSkew: {{ $.root.Values.topologySpread.maxSkew }}
    topologyKey: {{ $key }}
    whenUnsatisfiable: {{ $.root.Values.topologySpread.whenUnsatisfiable }}
    labelSelector:
      matchLabels:
        {{- include "signet-signup.componentLabels" $ | nindent 8 }}
  {{- end }}
{{- end }}
