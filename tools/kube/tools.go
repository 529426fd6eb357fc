//go:build tools

// Blank imports keep the commands' packages (and so their dependencies) in go.mod and go.sum; the
// binaries are built with `go build -o <dir>/ k8s.io/kubernetes/cmd/... sigs.k8s.io/kwok/cmd/kwok`.
package tools

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
	_ "k8s.io/kubernetes/cmd/kube-scheduler"
	_ "sigs.k8s.io/kwok/cmd/kwok"

	// etcd's command is the module root (a main package, which cannot be imported); its library entry
	// point keeps the server module and its dependencies in go.mod and go.sum.
	_ "go.etcd.io/etcd/server/v3/etcdmain"
)
