module github.com/wsreconnect/wsreconnect/bench

go 1.24

replace github.com/wsreconnect/wsreconnect => ../

require (
	github.com/cenkalti/backoff/v4 v4.3.0
	github.com/coder/websocket v1.8.15
	github.com/gorilla/websocket v1.5.3
	github.com/lxzan/gws v1.8.9
	github.com/wsreconnect/wsreconnect v0.0.0-00010101000000-000000000000
)

require (
	github.com/dolthub/maphash v0.1.0 // indirect
	github.com/klauspost/compress v1.17.9 // indirect
)
