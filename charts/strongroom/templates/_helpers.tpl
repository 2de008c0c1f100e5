{{/* Names */}}
{{- define "strongroom.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "strongroom.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else if contains (include "strongroom.name" .) .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name (include "strongroom.name" .) | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}

{{- define "strongroom.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{ include "strongroom.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{- define "strongroom.selectorLabels" -}}
app.kubernetes.io/name: {{ include "strongroom.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "strongroom.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "strongroom.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* cert-manager writes <fullname>-tls; otherwise the server makes <fullname>-webhook-tls itself. */}}
{{- define "strongroom.tlsSecretName" -}}
{{- if .Values.webhook.certManager.enabled }}
{{- printf "%s-tls" (include "strongroom.fullname" .) }}
{{- else }}
{{- printf "%s-webhook-tls" (include "strongroom.fullname" .) }}
{{- end }}
{{- end }}

{{/* Made by the server on first start unless dataKey.existingSecret is given; never rendered. */}}
{{- define "strongroom.dataKeySecretName" -}}
{{- default (printf "%s-data-key" (include "strongroom.fullname" .)) .Values.dataKey.existingSecret }}
{{- end }}

{{- define "strongroom.initialAdminSecretName" -}}
{{- printf "%s-initial-admin" (include "strongroom.fullname" .) }}
{{- end }}

{{/* "true" when storage is an external PostgreSQL: mode external, or mode auto with a URL or Secret. */}}
{{- define "strongroom.externalDatabase" -}}
{{- if or (eq .Values.database.mode "external") (and (eq .Values.database.mode "auto") (or .Values.database.url .Values.database.existingSecret)) }}true{{ end }}
{{- end }}

{{- define "strongroom.databaseSecretName" -}}
{{- default (printf "%s-database" (include "strongroom.fullname" .)) .Values.database.existingSecret }}
{{- end }}

{{- define "strongroom.databaseSecretKey" -}}
{{- if .Values.database.existingSecret }}{{ .Values.database.existingSecretKey }}{{ else }}url{{ end }}
{{- end }}

{{/* The REST API and webhook share one certificate when the webhook is on. */}}
{{- define "strongroom.tls" -}}
{{- if .Values.webhook.enabled }}true{{ end }}
{{- end }}

{{- define "strongroom.serviceHost" -}}
{{- printf "%s.%s.svc" (include "strongroom.fullname" .) .Release.Namespace }}
{{- end }}

{{/* authn always; authn-kubernetes when enabled; then the extra list, without repeats. */}}
{{- define "strongroom.authenticators" -}}
{{- $names := list "authn" }}
{{- if .Values.authnKubernetes.enabled }}{{ $names = append $names "authn-kubernetes" }}{{ end }}
{{- range .Values.authenticators }}{{ $names = append $names . }}{{ end }}
{{- $names | uniq | join "," }}
{{- end }}

{{/* The injected agent runs the chart's own image unless agent.image says otherwise. */}}
{{- define "strongroom.agentImage" -}}
{{- printf "%s:%s" (.Values.agent.image.repository | default .Values.image.repository) (.Values.agent.image.tag | default .Values.image.tag | default .Chart.AppVersion) }}
{{- end }}

{{/* Agents reach the API through this release's Service; https when the API shares the webhook's certificate. */}}
{{- define "strongroom.agentServerUrl" -}}
{{- if .Values.agent.serverUrl }}{{ .Values.agent.serverUrl }}{{ else }}{{ printf "%s://%s:%v" (ternary "https" "http" (eq (include "strongroom.tls" .) "true")) (include "strongroom.serviceHost" .) .Values.service.port }}{{ end }}
{{- end }}

{{/* Refuse combinations the schema cannot express clearly. */}}
{{- define "strongroom.validate" -}}
{{- if and (eq .Values.database.mode "embedded") (or .Values.database.url .Values.database.existingSecret) }}
{{- fail "database.url or database.existingSecret is set but database.mode=embedded would ignore it: set database.mode=auto (the default) or external to use that database, or remove the URL" }}
{{- end }}
{{- if and (not (include "strongroom.externalDatabase" .)) (gt (int .Values.replicaCount) 1) }}
{{- fail "replicaCount > 1 needs an external database: embedded storage keeps data on one PersistentVolumeClaim. Set database.url or database.existingSecret (this selects external storage), or replicaCount=1" }}
{{- end }}
{{- if and .Values.agent.enabled (eq .Values.agent.authenticator "authn-kubernetes") (not .Values.authnKubernetes.enabled) }}
{{- fail "agent.authenticator=authn-kubernetes needs authnKubernetes.enabled=true (or set agent.authenticator to an authn-jwt/<service-id> listed in authenticators)" }}
{{- end }}
{{- if and (eq .Values.database.mode "external") (not .Values.database.url) (not .Values.database.existingSecret) }}
{{- fail "database.mode=external needs database.url or database.existingSecret (recommended: a CloudNativePG cluster's app Secret)" }}
{{- end }}
{{- end }}
