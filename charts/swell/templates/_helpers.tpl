{{/* Names, labels and small shared fragments of the swell chart. */}}

{{- define "swell.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Full name: <release>-<chart>, or <release> when it already contains the chart name. */}}
{{- define "swell.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "swell.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Selector labels: name and instance only, because Deployment selectors are immutable. */}}
{{- define "swell.selectorLabels" -}}
app.kubernetes.io/name: {{ include "swell.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "swell.labels" -}}
helm.sh/chart: {{ include "swell.chart" . }}
{{ include "swell.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: swell
{{- end -}}

{{- define "swell.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "swell.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "swell.image" -}}
{{- if .Values.image.digest -}}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest -}}
{{- else -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}
{{- end -}}

{{/* Namespaces the operator serves when not cluster-wide (default: the release namespace). */}}
{{- define "swell.watchNamespaces" -}}
{{- if .Values.watchNamespaces -}}
{{- toJson (uniq .Values.watchNamespaces) -}}
{{- else -}}
{{- toJson (list .Release.Namespace) -}}
{{- end -}}
{{- end -}}

{{- define "swell.redis.fullname" -}}
{{- printf "%s-redis" (include "swell.fullname" .) | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "swell.redis.secretName" -}}
{{- default (include "swell.redis.fullname" .) .Values.redis.auth.existingSecret -}}
{{- end -}}

{{- define "swell.redis.selectorLabels" -}}
app.kubernetes.io/name: {{ include "swell.name" . }}-redis
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "swell.redis.labels" -}}
helm.sh/chart: {{ include "swell.chart" . }}
{{ include "swell.redis.selectorLabels" . }}
app.kubernetes.io/component: redis
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: swell
{{- end -}}

{{/* Pod and container security settings shared by every pod of the chart. */}}
{{- define "swell.podSecurityContext" -}}
{{- toYaml .Values.podSecurityContext -}}
{{- end -}}

{{- define "swell.containerSecurityContext" -}}
{{- toYaml .Values.securityContext -}}
{{- end -}}

{{/*
Fail early on clusters older than Chart.yaml's kubeVersion. `helm install` checks it already;
this makes `helm template --kube-version` (and GitOps tools that render offline) check it too.
*/}}
{{- define "swell.checkKubeVersion" -}}
{{- if and .Chart.KubeVersion (not (semverCompare .Chart.KubeVersion .Capabilities.KubeVersion.Version)) -}}
{{- fail (printf "swell needs Kubernetes %s (kubeVersion in Chart.yaml); this cluster is %s" .Chart.KubeVersion .Capabilities.KubeVersion.Version) -}}
{{- end -}}
{{- end -}}
