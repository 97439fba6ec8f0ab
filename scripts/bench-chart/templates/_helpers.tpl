{{- define "fleet.labels" -}}
app.kubernetes.io/managed-by: meridian
app.kubernetes.io/name: {{ .name }}
app.kubernetes.io/part-of: {{ .platform }}
meridian.dev/environment: {{ .environment }}
meridian.dev/platform: {{ .platform }}
meridian.dev/region: {{ .region }}
{{- end -}}
{{- define "fleet.meta" -}}
metadata:
  annotations:
    argocd.argoproj.io/sync-wave: {{ .wave | quote }}
  labels:
    {{- include "fleet.labels" .s | nindent 4 }}
  name: {{ .s.name }}
  namespace: {{ .s.namespace }}
{{- end -}}
{{- define "fleet.host" -}}
{{ .name }}.{{ .namespace }}.svc.cluster.local
{{- end -}}
