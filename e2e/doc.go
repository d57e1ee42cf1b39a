// Package e2e holds Basalt's black-box scenarios: they start Basalt the way
// users do (app.Run on a random port, or the built binary as a child
// process) and talk to it over HTTP only.
package e2e
