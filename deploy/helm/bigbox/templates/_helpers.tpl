{{/*
Names. The NodeSLO ConfigMap is always "bigbox-nodeslo" (PRODUCT.md fixes the
name the agent looks for), so one release per namespace.
*/}}
{{- define "bigbox.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 50 | trimSuffix "-" -}}
{{- else if contains "bigbox" .Release.Name -}}
{{- .Release.Name | trunc 50 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-bigbox" .Release.Name | trunc 50 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "bigbox.agentName" -}}{{ include "bigbox.fullname" . }}-agent{{- end -}}
{{- define "bigbox.webhookName" -}}{{ include "bigbox.fullname" . }}-webhook{{- end -}}
{{- define "bigbox.webhookCertSecret" -}}{{ include "bigbox.fullname" . }}-webhook-tls{{- end -}}
{{- define "bigbox.nodeSLOName" -}}bigbox-nodeslo{{- end -}}

{{- define "bigbox.labels" -}}
app.kubernetes.io/name: bigbox
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{- end -}}

{{- define "bigbox.agentSelector" -}}
app.kubernetes.io/name: bigbox
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: agent
{{- end -}}

{{- define "bigbox.webhookSelector" -}}
app.kubernetes.io/name: bigbox
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: webhook
{{- end -}}

{{- define "bigbox.image" -}}
{{- $tag := .Values.image.tag | default .Chart.AppVersion -}}
{{- if .Values.image.digest -}}
{{ .Values.image.repository }}@{{ .Values.image.digest }}
{{- else -}}
{{ .Values.image.repository }}:{{ $tag }}
{{- end -}}
{{- end -}}

{{/*
The NodeSLO document: .Values.nodeSLO with the unit sizes of .Values.units,
which the webhook's flags get too, so the two can never disagree.
*/}}
{{- define "bigbox.nodeSLO" -}}
{{- if hasKey .Values.nodeSLO "units" -}}
{{- fail "nodeSLO.units: set the unit sizes in .Values.units (the agent and the webhook share them)" -}}
{{- end -}}
{{- $slo := deepCopy .Values.nodeSLO -}}
{{- $_ := set $slo "units" (dict "cpuMilli" (int64 .Values.units.cpuMillicores) "memoryBytes" (include "bigbox.unitMemory" .)) -}}
{{- toYaml $slo -}}
{{- end -}}

{{/* units.memoryBytes as written: a quantity string ("64Mi") or whole bytes. */}}
{{- define "bigbox.unitMemory" -}}
{{- $m := .Values.units.memoryBytes -}}
{{- if kindIs "string" $m -}}{{ $m }}{{- else -}}{{ int64 $m }}{{- end -}}
{{- end -}}
