// Package interop holds the interop and fault-injection suite of wsreconnect:
// the Client run against WebSocket peers written by others (Node `ws`,
// Python `websockets`, nginx as a reverse proxy, toxiproxy as a faulty
// network) and against processes that are killed and restarted.
//
// The package has no API; everything is in its tests. Run it with
//
//	bash interop/run.sh
//
// which installs the peers and runs `go test -race ./...` in this module.
// internal/peer starts and stops the peers for the tests.
package interop
