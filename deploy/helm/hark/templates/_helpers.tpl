{{/* Names, labels and the derived values every template shares. */}}

{{- define "hark.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "hark.fullname" -}}
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

{{- define "hark.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "hark.labels" -}}
helm.sh/chart: {{ include "hark.chart" . }}
app.kubernetes.io/name: {{ include "hark.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{- define "hark.selectorLabels" -}}
app.kubernetes.io/name: {{ include "hark.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{/* The hark Deployments: ["all"], or ["api", "worker"] in split mode. */}}
{{- define "hark.components" -}}
{{- if eq .Values.mode "split" -}}
["api","worker"]
{{- else -}}
["all"]
{{- end -}}
{{- end -}}

{{/* Name of a component's objects: the full name for `all`, else with the component appended. */}}
{{- define "hark.componentName" -}}
{{- $root := index . 0 -}}
{{- $component := index . 1 -}}
{{- if eq $component "all" -}}
{{- include "hark.fullname" $root -}}
{{- else -}}
{{- printf "%s-%s" (include "hark.fullname" $root | trunc 56 | trimSuffix "-") $component -}}
{{- end -}}
{{- end -}}

{{/* The component whose Deployment the HorizontalPodAutoscaler scales. */}}
{{- define "hark.scaledComponent" -}}
{{- if eq .Values.mode "split" }}worker{{ else }}all{{ end -}}
{{- end -}}

{{/* A component's settings on top of the shared `config` (split.<component>.config wins). */}}
{{- define "hark.componentConfig" -}}
{{- $root := index . 0 -}}
{{- $component := index . 1 -}}
{{- $own := dict -}}
{{- if ne $component "all" -}}
{{- $own = (index $root.Values.split $component).config | default dict -}}
{{- end -}}
{{- merge (deepCopy $own) (deepCopy $root.Values.config) | toJson -}}
{{- end -}}

{{/*
An environment value as hark parses it. Helm reads YAML numbers as float64, which print as
1e+06; hark's integer settings want 1000000.
*/}}
{{- define "hark.envValue" -}}
{{- if kindIs "float64" . -}}
{{- if eq (float64 (int64 .)) . -}}{{ int64 . }}{{- else -}}{{ . }}{{- end -}}
{{- else if kindIs "bool" . -}}
{{- ternary "true" "false" . -}}
{{- else -}}
{{- . -}}
{{- end -}}
{{- end -}}

{{/*
terminationGracePeriodSeconds: the preStop sleep, then SHUTDOWN_GRACE_SECONDS for running
tasks (hark's default 30), then a margin to kill workers and exit before the SIGKILL.
*/}}
{{- define "hark.terminationGracePeriodSeconds" -}}
{{- $root := index . 0 -}}
{{- $config := index . 1 -}}
{{- $grace := 30.0 -}}
{{- if hasKey $config "SHUTDOWN_GRACE_SECONDS" -}}
{{- $grace = float64 (get $config "SHUTDOWN_GRACE_SECONDS") -}}
{{- end -}}
{{- add (int64 $root.Values.shutdown.preStopSleepSeconds) (int64 (ceil $grace)) (int64 $root.Values.shutdown.graceMarginSeconds) -}}
{{- end -}}

{{- define "hark.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "hark.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "hark.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}

{{- define "hark.postgresql.fullname" -}}
{{- printf "%s-postgresql" (include "hark.fullname" . | trunc 52 | trimSuffix "-") -}}
{{- end -}}

{{/*
The bundled PostgreSQL's password: the value given, else the one already in the cluster's
Secret (so an upgrade keeps it), else a new random one. Memoised in .Values so the
PostgreSQL Secret and hark's DATABASE_URL get the same one within a render.
*/}}
{{- define "hark.postgresql.password" -}}
{{- if .Values.postgresql.auth.password -}}
{{- .Values.postgresql.auth.password -}}
{{- else -}}
{{- if not (hasKey .Values.postgresql.auth "generatedPassword") -}}
{{- $existing := lookup "v1" "Secret" .Release.Namespace (include "hark.postgresql.fullname" .) -}}
{{- $password := randAlphaNum 32 -}}
{{- if and $existing $existing.data (hasKey $existing.data "password") -}}
{{- $password = index $existing.data "password" | b64dec -}}
{{- end -}}
{{- $_ := set .Values.postgresql.auth "generatedPassword" $password -}}
{{- end -}}
{{- .Values.postgresql.auth.generatedPassword -}}
{{- end -}}
{{- end -}}

{{/* Whether the chart makes a Secret for hark (secrets given, or the bundled database's URL). */}}
{{- define "hark.hasSecret" -}}
{{- if or .Values.secrets .Values.postgresql.enabled }}true{{ end -}}
{{- end -}}

{{/* Whether the chart makes a PersistentVolumeClaim for DATA_DIR. */}}
{{- define "hark.makesDataClaim" -}}
{{- if and .Values.persistence.enabled (not .Values.persistence.existingClaim) }}true{{ end -}}
{{- end -}}

{{/* How many hark pods can run at once. */}}
{{- define "hark.podCount" -}}
{{- if eq .Values.mode "split" -}}
2
{{- else if .Values.autoscaling.enabled -}}
{{- int .Values.autoscaling.maxReplicas -}}
{{- else -}}
{{- int .Values.replicaCount -}}
{{- end -}}
{{- end -}}

{{- define "hark.sharedVolume" -}}
{{- if and .Values.persistence.enabled (or .Values.persistence.existingClaim (has "ReadWriteMany" .Values.persistence.accessModes)) }}true{{ end -}}
{{- end -}}

{{/*
Several pods on one shared volume: each keeps its own DATA_DIR there, so a pod's files stay
apart and easy to find (hark keeps each process's uploads in flight in its own folder under
DATA_DIR/tmp, and moves an upload into DATA_DIR/jobs with a rename, so both are on one
filesystem). Job audio paths are absolute, under /data in every pod, so whichever pod runs a
job finds its audio.
*/}}
{{- define "hark.dataDirPerPod" -}}
{{- if and (include "hark.sharedVolume" .) (gt (int (include "hark.podCount" .)) 1) }}true{{ end -}}
{{- end -}}

{{/*
Refuses settings that would break a user in ways hard to trace at run time: several pods on
one ReadWriteOnce volume, on separate SQLite files or separate job folders (a job submitted to
one pod is unknown to, or has no audio on, the next), two job stores at once.
*/}}
{{- define "hark.validate" -}}
{{- if and .Values.postgresql.enabled (hasKey .Values.secrets "DATABASE_URL") -}}
{{- fail "postgresql.enabled and secrets.DATABASE_URL both name a job store: choose one" -}}
{{- end -}}
{{- if gt (int (include "hark.podCount" .)) 1 -}}
{{- if and .Values.persistence.enabled (not (include "hark.sharedVolume" .)) -}}
{{- fail "several hark pods cannot share a ReadWriteOnce volume: set persistence.accessModes=[ReadWriteMany] (or a persistence.existingClaim that is), or persistence.enabled=false with scaleOut.requireSharedStorage=false for sync-only use" -}}
{{- end -}}
{{- if .Values.scaleOut.requireSharedStorage -}}
{{- if not (or .Values.postgresql.enabled (hasKey .Values.secrets "DATABASE_URL") .Values.existingSecret) -}}
{{- fail "several hark pods need a shared job store: set postgresql.enabled=true, secrets.DATABASE_URL, or existingSecret with DATABASE_URL (or scaleOut.requireSharedStorage=false for sync-only use)" -}}
{{- end -}}
{{- if not .Values.persistence.enabled -}}
{{- fail "several hark pods need one volume for job audio: set persistence.enabled=true with persistence.accessModes=[ReadWriteMany] (or scaleOut.requireSharedStorage=false for sync-only use)" -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- end -}}
