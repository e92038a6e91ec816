//! Executes a hook plan against a Kubernetes cluster through kube-rs.
