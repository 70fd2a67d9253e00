"""Provider health activities: the periodic probe of every model deployment that
``ProviderHealthCheckWorkflow`` runs (results in ``provider_health_checks``)."""
