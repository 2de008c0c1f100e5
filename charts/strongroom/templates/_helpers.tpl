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

{{- define "strongroom.tlsSecretName" -}}
{{- printf "%s-tls" (include "strongroom.fullname" .) }}
{{- end }}

{{- define "strongroom.dataKeySecretName" -}}
{{- default (printf "%s-data-key" (include "strongroom.fullname" .)) .Values.dataKey.existingSecret }}
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

{{/* Refuse combinations the schema cannot express clearly. */}}
{{- define "strongroom.validate" -}}
{{- if and (eq .Values.database.mode "embedded") (gt (int .Values.replicaCount) 1) }}
{{- fail "database.mode=embedded keeps data on one PersistentVolumeClaim: set replicaCount to 1, or use an external database (database.url or database.existingSecret)" }}
{{- end }}
{{- if and (eq .Values.database.mode "external") (not .Values.database.url) (not .Values.database.existingSecret) }}
{{- fail "database.mode=external needs database.url or database.existingSecret (recommended: a CloudNativePG cluster's app Secret)" }}
{{- end }}
{{- end }}
