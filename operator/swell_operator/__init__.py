"""swell_operator: the kopf operator that scales swell workers on backlog (the JobQueue resource).

Modules: handlers (kopf decorators), reconcile (one tick, the owned Deployment), scaling (the pure
algorithm), manifests (pure bodies), kube (the only Kubernetes API caller), stats_source (the
runtime's stats port), jobqueue (the typed spec), main (the `swell-operator` command).
"""
