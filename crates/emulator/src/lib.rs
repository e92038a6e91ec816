//! A loopback Kubernetes API emulator for tests and the no-cluster demo.
