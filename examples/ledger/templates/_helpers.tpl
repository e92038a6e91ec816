{{/* The labels every object of the release carries. */}}
{{- define "ledger.labels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
{{- end }}

{{/* A hook container's security context: no privilege escalation. */}}
{{- define "ledger.containerSecurity" -}}
securityContext:
  allowPrivilegeEscalation: false
{{- end }}

{{/* An image from the release's registry. */}}
{{- define "ledger.image" -}}
{{ .root.Values.registry }}/{{ .image }}
{{- end }}
