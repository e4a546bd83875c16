{{/*
The demo worker pod template (examples/swell_demo.py, built into the swell image). The same pod
spec is written out by hand in examples/jobqueue.yaml; a test keeps the two in step.
Called with a dict: {root: ., redisUrl: "<redis://host:port/db without password>", secretName: ""}.
*/}}
{{- define "swell.example.podTemplate" -}}
{{- $root := .root -}}
metadata:
  labels:
    app.kubernetes.io/name: swell-demo-worker
    app.kubernetes.io/instance: {{ $root.Release.Name }}
    app.kubernetes.io/component: worker
    app.kubernetes.io/part-of: swell
spec:
  # Longer than the worker's shutdown grace (25 s) so running jobs finish on scale-down.
  terminationGracePeriodSeconds: 40
  automountServiceAccountToken: false
  securityContext:
    {{- include "swell.podSecurityContext" $root | nindent 4 }}
  containers:
    - name: worker
      image: {{ include "swell.image" $root | quote }}
      imagePullPolicy: {{ $root.Values.image.pullPolicy }}
      command: ["swell", "worker", "swell_demo:app"]
      args:
        {{- range $root.Values.example.queues }}
        - --queue={{ . }}
        {{- end }}
        - --concurrency={{ $root.Values.example.concurrency }}
      env:
        # Workers report their pod name, so the operator can pick idle pods to remove first.
        - name: POD_NAME
          valueFrom:
            fieldRef:
              fieldPath: metadata.name
        {{- if .secretName }}
        - name: SWELL_REDIS_PASSWORD
          valueFrom:
            secretKeyRef:
              name: {{ .secretName }}
              key: password
        # $(VAR) is expanded by the kubelet; the generated password is alphanumeric, URL-safe.
        - name: SWELL_REDIS_URL
          value: {{ .redisUrl | replace "redis://" "redis://:$(SWELL_REDIS_PASSWORD)@" | quote }}
        {{- else }}
        - name: SWELL_REDIS_URL
          value: {{ .redisUrl | quote }}
        {{- end }}
        - name: PYTHONDONTWRITEBYTECODE
          value: "1"
      resources:
        requests:
          cpu: 50m
          memory: 64Mi
        limits:
          memory: 256Mi
      securityContext:
        {{- include "swell.containerSecurityContext" $root | nindent 8 }}
      volumeMounts:
        - name: tmp
          mountPath: /tmp
  volumes:
    - name: tmp
      emptyDir:
        sizeLimit: 64Mi
{{- end -}}
