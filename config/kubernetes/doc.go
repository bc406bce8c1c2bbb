// Package kubernetes holds loanremind's Kubernetes manifests: the YAML files
// in this directory, applied with `kubectl apply -k config/kubernetes` (the
// Secret and the backfill Job are applied by hand; see kustomization.yaml).
//
// The package has no code. Its tests decode every manifest strictly into the
// k8s.io/api types, so that a misspelt or wrongly cased field, a duplicate
// key or a number where the API wants a string fails `go test` instead of
// failing, or being silently dropped, at `kubectl apply` time. They also
// check the properties operators rely on (one run at a time, retry and time
// limits, non-root and read-only pods, secrets from the Secret, the config
// from the ConfigMap) and that the ConfigMap's loanremind.yaml is a valid
// loanremind configuration.
package kubernetes
