// Package accounts is the account service: sign-up and login with email and
// password, sessions with rotating refresh tokens, email verification and
// password reset, API keys, the signing keys of access tokens, and the
// Authenticator that turns a bearer credential into an auth.Principal.
package accounts
