-- ArgoCD health of a Google Managed Prometheus object (PodMonitoring, ClusterPodMonitoring,
-- Rules, ClusterRules, GlobalRules). ArgoCD has no built-in check for these kinds, so without
-- one a PodMonitoring the operator rejected counts as healthy and a rollout wave moves on while
-- its metrics (and the KEDA triggers and alerts that read them) are gone.
-- The GMP operator reports the condition ConfigurationCreateSuccess on status.conditions once it
-- has turned the object into collector or rule-evaluator configuration (prometheus-engine,
-- pkg/operator/apis/monitoring/v1: MonitoringStatus, ConfigurationCreateSuccess).
local hs = {}
if obj.metadata ~= nil and obj.metadata.deletionTimestamp ~= nil then
  hs.status = "Progressing"
  hs.message = "Pending deletion"
  return hs
end
if obj.status ~= nil and obj.status.conditions ~= nil then
  local generation = obj.metadata.generation
  local observed = obj.status.observedGeneration
  if generation ~= nil and observed ~= nil and observed < generation then
    hs.status = "Progressing"
    hs.message = "Waiting for the Managed Prometheus operator to read generation " .. generation
    return hs
  end
  for _, condition in ipairs(obj.status.conditions) do
    if condition.type == "ConfigurationCreateSuccess" then
      if condition.status == "True" then
        hs.status = "Healthy"
        hs.message = "Configuration created"
        return hs
      end
      if condition.status == "False" then
        hs.status = "Degraded"
        hs.message = condition.message or condition.reason or "Configuration not created"
        return hs
      end
    end
  end
end
hs.status = "Progressing"
hs.message = "Waiting for the Managed Prometheus operator"
return hs
