{{/*
Helpers of the kaito-py chart. Every object mirrors what `kaito manifests` renders
(kaito_backends/operator/manifests.py); tests/chart compares them object by object.
*/}}

{{/* The labels kaito manifests puts on every object. */}}
{{- define "kaito-py.baseLabels" -}}
app.kubernetes.io/name: {{ .Values.name | quote }}
app.kubernetes.io/part-of: kaito
{{- end -}}

{{/* Those, plus Helm's own (the only labels kaito manifests does not render). */}}
{{- define "kaito-py.labels" -}}
{{ include "kaito-py.baseLabels" . }}
app.kubernetes.io/instance: {{ .Release.Name | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service | quote }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | quote }}
{{- end -}}

{{- define "kaito-py.selector" -}}
app.kubernetes.io/name: {{ .Values.name | quote }}
{{- end -}}

{{- define "kaito-py.image" -}}
{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}
{{- end -}}

{{- define "kaito-py.certSecret" -}}
{{ .Values.name }}-webhook-cert
{{- end -}}

{{/* The host of webhook.url ("" without one). */}}
{{- define "kaito-py.webhookHost" -}}
{{- if .Values.webhook.url -}}
{{- (urlParse .Values.webhook.url).hostname -}}
{{- end -}}
{{- end -}}

{{/* Whether a host is an IP address (IPv4 dotted quad, or IPv6 with colons). */}}
{{- define "kaito-py.isIP" -}}
{{- if or (regexMatch "^([0-9]{1,3}\\.){3}[0-9]{1,3}$" .) (contains ":" .) -}}true{{- end -}}
{{- end -}}

{{/* --feature-gates: name=true|false, sorted by name, comma separated. */}}
{{- define "kaito-py.featureGates" -}}
{{- $gates := list -}}
{{- range $name, $on := .Values.featureGates -}}
{{- $gates = append $gates (printf "%s=%t" $name $on) -}}
{{- end -}}
{{- join "," $gates -}}
{{- end -}}

{{/* Refuse values that cannot work, as kaito manifests does (install_options.check_options). */}}
{{- define "kaito-py.check" -}}
{{- if and (gt (int .Values.replicas) 1) (not .Values.leaderElection.enabled) -}}
{{- fail "replicas > 1 needs leaderElection.enabled" -}}
{{- end -}}
{{- if and .Values.webhook.caBundle (ne .Values.webhook.certificate "secret") -}}
{{- fail "webhook.caBundle is given only with webhook.certificate: secret" -}}
{{- end -}}
{{- end -}}

{{/* The registered kinds and the RBAC rules, generated from the code (python -m tools.chart). */}}
{{- define "kaito-py.generated" -}}
{{- .Files.Get "files/kinds.yaml" -}}
{{- end -}}
