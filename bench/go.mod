module github.com/wsreconnect/wsreconnect/bench

go 1.24

replace github.com/wsreconnect/wsreconnect => ../

require (
	github.com/cenkalti/backoff/v4 v4.3.0
	github.com/gorilla/websocket v1.5.3
	github.com/wsreconnect/wsreconnect v0.0.0-00010101000000-000000000000
)
