package authapi

import (
	"context"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/basaltdev/basalt/internal/auth"
	"github.com/basaltdev/basalt/internal/gateway/restapi"
)

// DescribeOpenAPI adds the routes of this package to the OpenAPI document
// served to the caller in ctx (a restapi.OpenAPIDescriber): the public
// routes (sign-up, login, refresh, password reset, email verification, the
// JWKS) for everyone, the routes of the caller's own account for
// anonymous callers and users (API keys have no account), and each area of
// the /v1/admin routes for the callers it admits (auth.Principal.Manage).
// The shapes are those of request.go's accessors and views.go.
func DescribeOpenAPI(ctx context.Context, doc *openapi3.T) error {
	p := auth.FromContext(ctx)
	for name, s := range schemas() {
		doc.Components.Schemas[name] = s
	}
	doc.Components.Parameters["AccountID"] = pathID("The account id")
	doc.Components.Parameters["SessionID"] = pathID("The session id")
	doc.Components.Parameters["APIKeyID"] = pathID("The API key id")
	doc.Components.Parameters["AccountsLimit"] = &openapi3.ParameterRef{Value: openapi3.NewQueryParameter("limit").
		WithSchema(openapi3.NewIntegerSchema().WithMin(1)).WithDescription("The most accounts in the page")}
	doc.Components.Parameters["AccountsCursor"] = &openapi3.ParameterRef{Value: openapi3.NewQueryParameter("cursor").
		WithSchema(openapi3.NewStringSchema()).WithDescription("The nextCursor of the previous page")}
	doc.Components.Parameters["AccountsEmail"] = &openapi3.ParameterRef{Value: openapi3.NewQueryParameter("email").
		WithSchema(openapi3.NewStringSchema().WithMaxLength(254)).
		WithDescription("Only the accounts whose email address contains this, ignoring case")}

	restapi.AddTag(doc, "auth", "Sign-up, login and tokens, and the caller's own account, sessions and password")
	paths := doc.Paths
	publicRoutes(paths)
	if p.Kind != auth.KindAPIKey {
		ownAccountRoutes(paths)
	}
	restapi.AddTag(doc, "admin", "Accounts, sessions, API keys and signing keys (admins)")
	adminRoutes(paths, func(scope string) bool { return p.Manage("authapi.DescribeOpenAPI", scope) == nil })
	restapi.AddTag(doc, "keys", "The public keys that verify access tokens")
	paths.Set(JWKSPath, &openapi3.PathItem{Get: restapi.Operation("getJWKS", "keys", "The token verification keys (JWKS)",
		"The public keys (RFC 7517) that verify access tokens, the next signing key included before it signs; "+
			"caches may keep the answer for a minute.",
		nil, nil, restapi.Responses(200, restapi.JSONResponse("The key set", restapi.SchemaRef("JWKS"), "Cache-Control"), 400))})
	return nil
}

func pathID(desc string) *openapi3.ParameterRef {
	return &openapi3.ParameterRef{Value: openapi3.NewPathParameter("id").
		WithSchema(openapi3.NewStringSchema()).WithDescription(desc)}
}

// publicRoutes are the routes that take no credentials.
func publicRoutes(paths *openapi3.Paths) {
	const tag = "auth"
	body := func(name string) *openapi3.RequestBodyRef {
		return restapi.JSONBody(restapi.SchemaRef(name), restapi.MediaJSON)
	}
	accepted := restapi.JSONResponse("Accepted", nil)
	tokens := restapi.JSONResponse("The access and refresh tokens and the new session", restapi.SchemaRef("Tokens"))
	paths.Set(authBase+"/signup", &openapi3.PathItem{Post: restapi.Operation("signUp", tag, "Sign up",
		"Starts the creation of an account for the email address: the answer is 202 whether or not the address already "+
			"has an account (an email tells its owner what happened), so nobody learns which addresses are registered; "+
			"403 when sign-ups are closed, or by invitation and the invite token is missing or wrong.",
		nil, body("SignUpRequest"), restapi.Responses(202, accepted, 400, 403, 413, 415, 422, 429))})
	paths.Set(authBase+"/login", &openapi3.PathItem{Post: restapi.Operation("login", tag, "Log in",
		"Checks the email address and password and opens a session: the answer holds a short-lived access token "+
			"(send it as Authorization: Bearer) and a refresh token.",
		nil, body("LoginRequest"), restapi.Responses(200, tokens, 400, 401, 403, 413, 415, 429))})
	paths.Set(authBase+"/refresh", &openapi3.PathItem{Post: restapi.Operation("refresh", tag, "Refresh the tokens",
		"Exchanges a refresh token for new tokens of the same session; the refresh token is used up.",
		nil, body("RefreshRequest"), restapi.Responses(200, tokens, 400, 401, 413, 415, 429))})
	paths.Set(authBase+"/password/reset", &openapi3.PathItem{Post: restapi.Operation("requestPasswordReset", tag,
		"Request a password reset",
		"Emails a reset token to the address if it has an account; the answer is 202 either way.",
		nil, body("PasswordResetRequest"), restapi.Responses(202, accepted, 400, 413, 415, 429))})
	paths.Set(authBase+"/password/reset/confirm", &openapi3.PathItem{Post: restapi.Operation("confirmPasswordReset", tag,
		"Set a new password with a reset token",
		"Sets the password of the account the emailed reset token belongs to and ends every session of that account.",
		nil, body("PasswordResetConfirmation"), restapi.Responses(204, restapi.JSONResponse("The password is set", nil),
			400, 413, 415, 422, 429))})
	paths.Set(authBase+"/verify", &openapi3.PathItem{Post: restapi.Operation("verifyEmail", tag,
		"Verify an email address",
		"Marks the account's address as verified with the token emailed by requestVerification.",
		nil, body("EmailVerification"), restapi.Responses(204, restapi.JSONResponse("The address is verified", nil),
			400, 413, 415, 429))})
}

// ownAccountRoutes are the routes of the caller's own account, which need
// a user's access token.
func ownAccountRoutes(paths *openapi3.Paths) {
	const tag = "auth"
	sec := restapi.Bearer()
	noBody := restapi.OptionalJSONBody(restapi.SchemaRef("NoParameters"))
	done := func(desc string) *openapi3.ResponseRef { return restapi.JSONResponse(desc, nil) }
	paths.Set(authBase+"/logout", &openapi3.PathItem{Post: restapi.Operation("logout", tag, "Log out",
		"Ends the session the access token belongs to: its refresh token stops working and its access tokens are refused.",
		sec, noBody, restapi.Responses(204, done("The session has ended"), 400, 401, 403, 413, 415))})
	paths.Set(authBase+"/me", &openapi3.PathItem{
		Get: restapi.Operation("getMe", tag, "The caller's account",
			"The account the access token belongs to.",
			sec, nil, restapi.Responses(200, restapi.JSONResponse("The account", restapi.SchemaRef("Account")), 400, 401, 403)),
		Delete: restapi.Operation("deleteMe", tag, "Delete the caller's account",
			"Deletes the caller's account and ends its sessions; the current password confirms it.",
			sec, restapi.JSONBody(restapi.SchemaRef("DeleteMeRequest"), restapi.MediaJSON),
			restapi.Responses(204, done("The account is gone"), 400, 401, 403, 413, 415, 429)),
	})
	paths.Set(authBase+"/sessions", &openapi3.PathItem{Get: restapi.Operation("listMySessions", tag, "The caller's sessions",
		`The sessions of the caller's account; "current" marks the one the request was made in.`,
		sec, nil, restapi.Responses(200, restapi.JSONResponse("The sessions", restapi.SchemaRef("SessionList")), 400, 401, 403))})
	paths.Set(authBase+"/sessions/{id}", &openapi3.PathItem{Parameters: restapi.Params("SessionID"),
		Delete: restapi.Operation("revokeMySession", tag, "End one of the caller's sessions",
			"Revokes a session of the caller's own account, such as one on a lost device.",
			sec, nil, restapi.Responses(204, done("The session has ended"), 400, 401, 403, 404))})
	paths.Set(authBase+"/password", &openapi3.PathItem{Post: restapi.Operation("changePassword", tag, "Change the password",
		"Replaces the caller's password after checking the current one; other sessions end.",
		sec, restapi.JSONBody(restapi.SchemaRef("ChangePasswordRequest"), restapi.MediaJSON),
		restapi.Responses(204, done("The password is changed"), 400, 401, 403, 413, 415, 422, 429))})
	paths.Set(authBase+"/verify/request", &openapi3.PathItem{Post: restapi.Operation("requestVerification", tag,
		"Request an email verification",
		"Emails a verification token to the caller's address, to pass to verifyEmail.",
		sec, noBody, restapi.Responses(202, restapi.JSONResponse("A message is on its way", nil), 400, 401, 403, 409, 413, 415, 429))})
}

// adminRoutes are the /v1/admin routes of the areas allowed admits.
func adminRoutes(paths *openapi3.Paths, allowed func(scope string) bool) {
	const tag = "admin"
	sec := restapi.Bearer()
	ref := restapi.SchemaRef
	done := func(desc string) *openapi3.ResponseRef { return restapi.JSONResponse(desc, nil) }
	if allowed(auth.ScopeAdminAccounts) {
		paths.Set(adminBase+"/accounts", &openapi3.PathItem{
			Get: restapi.Operation("listAccounts", tag, "List accounts",
				"One page of accounts by id, all of them or those whose address contains email; pass nextCursor as cursor for the next page (null on the last).",
				sec, nil, restapi.Responses(200, restapi.JSONResponse("One page of accounts", ref("AccountPage")), 400, 401, 403),
				"AccountsLimit", "AccountsCursor", "AccountsEmail"),
			Post: restapi.Operation("createAccount", tag, "Create an account",
				"Creates an account with a password, roles and, optionally, an address already verified.",
				sec, restapi.JSONBody(ref("NewAccount"), restapi.MediaJSON),
				restapi.Responses(201, restapi.JSONResponse("Created", ref("Account"), "Location"), 400, 401, 403, 409, 413, 415, 422)),
		})
		paths.Set(adminBase+"/invites", &openapi3.PathItem{Post: restapi.Operation("createInvite", tag, "Invite someone to sign up",
			"Emails an invitation to the address, with roles for the account it signs up; the token travels by mail only. "+
				"In the invite-only sign-up mode, signUp needs one.",
			sec, restapi.JSONBody(ref("InviteRequest"), restapi.MediaJSON),
			restapi.Responses(202, restapi.JSONResponse("The invitation is on its way", ref("Invitation")), 400, 401, 403, 413, 415, 422, 429))})
		paths.Set(adminBase+"/accounts/{id}", &openapi3.PathItem{Parameters: restapi.Params("AccountID"),
			Get: restapi.Operation("getAccount", tag, "Get an account", "One account.",
				sec, nil, restapi.Responses(200, restapi.JSONResponse("The account", ref("Account")), 400, 401, 403, 404)),
			Patch: restapi.Operation("updateAccount", tag, "Disable, enable, verify or change the roles of an account",
				"Sets the members present (a merge patch): disabling an account ends its sessions; verified marks the address verified (now) or not.",
				sec, restapi.JSONBody(ref("AccountPatch"), restapi.MediaMergePatch, restapi.MediaJSON),
				restapi.Responses(200, restapi.JSONResponse("The account", ref("Account")), 400, 401, 403, 404, 413, 415, 422)),
			Delete: restapi.Operation("deleteAccount", tag, "Delete an account", "Deletes the account and ends its sessions.",
				sec, nil, restapi.Responses(204, done("Deleted"), 400, 401, 403, 404)),
		})
	}
	if allowed(auth.ScopeAdminSessions) {
		paths.Set(adminBase+"/accounts/{id}/sessions", &openapi3.PathItem{Parameters: restapi.Params("AccountID"),
			Get: restapi.Operation("listAccountSessions", tag, "List an account's sessions", "The sessions of one account, newest first.",
				sec, nil, restapi.Responses(200, restapi.JSONResponse("The sessions", ref("SessionList")), 400, 401, 403, 404))})
		paths.Set(adminBase+"/sessions/{id}", &openapi3.PathItem{Parameters: restapi.Params("SessionID"),
			Delete: restapi.Operation("revokeSession", tag, "End any session", "Revokes a session of any account.",
				sec, nil, restapi.Responses(204, done("The session has ended"), 400, 401, 403, 404))})
	}
	if allowed(auth.ScopeAdminAPIKeys) {
		paths.Set(adminBase+"/api-keys", &openapi3.PathItem{
			Get: restapi.Operation("listAPIKeys", tag, "List API keys", "Every API key, revoked ones included, without secrets.",
				sec, nil, restapi.Responses(200, restapi.JSONResponse("The API keys", ref("APIKeyList")), 400, 401, 403)),
			Post: restapi.Operation("createAPIKey", tag, "Create an API key",
				"Creates an API key with scopes and roles no wider than the caller's; the answer carries its secret this once.",
				sec, restapi.JSONBody(ref("APIKeySpec"), restapi.MediaJSON),
				restapi.Responses(201, restapi.JSONResponse("Created, with its secret in key", ref("NewAPIKey")), 400, 401, 403, 413, 415, 422)),
		})
		paths.Set(adminBase+"/api-keys/{id}", &openapi3.PathItem{Parameters: restapi.Params("APIKeyID"),
			Delete: restapi.Operation("revokeAPIKey", tag, "Revoke an API key", "Revokes the key; it stays listed, with revokedAt.",
				sec, nil, restapi.Responses(204, done("Revoked"), 400, 401, 403, 404))})
	}
	if allowed(auth.ScopeAdminSigningKeys) {
		paths.Set(adminBase+"/keys", &openapi3.PathItem{Get: restapi.Operation("listSigningKeys", tag, "List the signing keys",
			"The keys that sign access tokens, oldest first, without their private parts.",
			sec, nil, restapi.Responses(200, restapi.JSONResponse("The signing keys", ref("SigningKeyList")), 400, 401, 403))})
		paths.Set(adminBase+"/keys/rotate", &openapi3.PathItem{Post: restapi.Operation("rotateSigningKeys", tag, "Rotate the signing keys",
			"Creates a new signing key, published at once in the JWKS; it signs once every process has loaded it.",
			sec, restapi.OptionalJSONBody(ref("NoParameters")),
			restapi.Responses(201, restapi.JSONResponse("The new signing key", ref("SigningKey")), 400, 401, 403, 413, 415))})
	}
}

// schemas are the shapes of this package's requests (request.go's
// accessors refuse other members, so every request object is closed) and
// answers (views.go).
func schemas() openapi3.Schemas {
	str := restapi.String
	obj := restapi.ClosedObject
	strings := func(desc string) *openapi3.SchemaRef {
		s := restapi.ArrayOf(str(""))
		s.Value.Description = desc
		return s
	}
	nullTime := func(desc string) *openapi3.SchemaRef { return restapi.Nullable(restapi.Timestamp(), desc) }
	nullString := func(desc string) *openapi3.SchemaRef { return restapi.Nullable(str(""), desc) }
	boolean := restapi.Bool
	integer := restapi.Int64
	email, password := str("An email address"), str("A password")
	roles := strings(`Roles; "admin" makes an admin`)
	scopes := strings(`Scopes: "<collection>:<action>" (either side may be "*"; read is list and get, write is create, ` +
		`update and delete) or a management scope such as collections:view`)
	apiKeyProps := func() openapi3.Schemas {
		return openapi3.Schemas{
			"id": str("The API key id"), "name": str("A name for people"), "prefix": str("The first characters of the secret"),
			"roles": roles, "scopes": scopes,
			"createdBy":    nullString("The account that created the key; null when made by the command line"),
			"createdByKey": nullString("The API key that created this one; null when an account did"),
			"createdAt":    restapi.Timestamp(), "expiresAt": nullTime("When the key stops working; null: never"),
			"lastUsedAt": nullTime("null: never used"), "revokedAt": nullTime("null: not revoked"),
		}
	}
	apiKeyRequired := []string{"id", "name", "prefix", "roles", "scopes", "createdBy", "createdByKey", "createdAt",
		"expiresAt", "lastUsedAt", "revokedAt"}
	newKey := apiKeyProps()
	newKey["key"] = str("The secret, shown this once: send it as Authorization: Bearer")
	cursor := nullString("Pass as cursor to get the next page; null on the last page")
	return openapi3.Schemas{
		"SignUpRequest": obj([]string{"email", "password"}, openapi3.Schemas{"email": email, "password": password,
			"invite": str("The emailed invitation token, when sign-up is by invitation")}),
		"InviteRequest": obj([]string{"email"}, openapi3.Schemas{"email": email, "roles": roles}),
		"Invitation": obj([]string{"email", "roles", "expiresAt"}, openapi3.Schemas{"email": email, "roles": roles,
			"expiresAt": restapi.Timestamp()}),
		"LoginRequest":    obj([]string{"email", "password"}, openapi3.Schemas{"email": email, "password": password, "device": str("A name for the device, shown in the sessions")}),
		"RefreshRequest":  obj([]string{"refreshToken"}, openapi3.Schemas{"refreshToken": str("The refresh token of the last login or refresh")}),
		"DeleteMeRequest": obj([]string{"password"}, openapi3.Schemas{"password": str("The current password")}),
		"ChangePasswordRequest": obj([]string{"currentPassword", "newPassword"}, openapi3.Schemas{
			"currentPassword": str("The current password"), "newPassword": str("The new password")}),
		"PasswordResetRequest":      obj([]string{"email"}, openapi3.Schemas{"email": email}),
		"PasswordResetConfirmation": obj([]string{"token", "newPassword"}, openapi3.Schemas{"token": str("The emailed reset token"), "newPassword": str("The new password")}),
		"EmailVerification":         obj([]string{"token"}, openapi3.Schemas{"token": str("The emailed verification token")}),
		"NoParameters":              obj(nil, openapi3.Schemas{}),
		"NewAccount": obj([]string{"email", "password"}, openapi3.Schemas{"email": email, "password": password, "roles": roles,
			"verified": boolean("The address counts as verified")}),
		"AccountPatch": obj(nil, openapi3.Schemas{"disabled": boolean("Disable (true) or enable (false) the account"), "roles": roles,
			"verified": boolean("Mark the address verified (true; the time of the first such change is kept) or not verified (false)")}),
		"APIKeySpec": obj([]string{"name"}, openapi3.Schemas{"name": str("A name for people"), "scopes": scopes, "roles": roles,
			"expiresAt": restapi.Timestamp()}),
		"Account": obj([]string{"id", "email", "roles", "verified", "verifiedAt", "disabled", "createdAt", "updatedAt"}, openapi3.Schemas{
			"id": str("The account id"), "email": email, "roles": roles, "verified": boolean("The address is verified"),
			"verifiedAt": nullTime("null: not verified"), "disabled": boolean("The account may not log in"),
			"createdAt": restapi.Timestamp(), "updatedAt": restapi.Timestamp()}),
		"AccountPage": obj([]string{"items", "nextCursor"}, openapi3.Schemas{"items": restapi.ArrayOf(restapi.SchemaRef("Account")), "nextCursor": cursor}),
		"Session": obj([]string{"id", "device", "userAgent", "ip", "createdAt", "lastUsedAt", "expiresAt", "revokedAt", "revokeReason", "current"},
			openapi3.Schemas{
				"id": str("The session id"), "device": str("The device named at login"), "userAgent": str("The User-Agent of the login"),
				"ip": str("The client address of the login"), "createdAt": restapi.Timestamp(), "lastUsedAt": restapi.Timestamp(),
				"expiresAt": restapi.Timestamp(), "revokedAt": nullTime("null: not revoked"),
				"revokeReason": nullString("Why the session ended"), "current": boolean("The request was made in this session"),
			}),
		"SessionList": obj([]string{"items"}, openapi3.Schemas{"items": restapi.ArrayOf(restapi.SchemaRef("Session"))}),
		"Tokens": obj([]string{"accessToken", "tokenType", "expiresIn", "accessTokenExpiresAt", "refreshToken", "refreshTokenExpiresAt", "session"},
			openapi3.Schemas{
				"accessToken": str("Send as Authorization: Bearer"), "tokenType": str(`Always "Bearer"`),
				"expiresIn":            integer("Seconds until the access token expires"),
				"accessTokenExpiresAt": restapi.Timestamp(), "refreshToken": str("Pass to refresh, once"),
				"refreshTokenExpiresAt": restapi.Timestamp(), "session": restapi.SchemaRef("Session"),
			}),
		"APIKey":         obj(apiKeyRequired, apiKeyProps()),
		"NewAPIKey":      obj(append(apiKeyRequired, "key"), newKey),
		"APIKeyList":     obj([]string{"items"}, openapi3.Schemas{"items": restapi.ArrayOf(restapi.SchemaRef("APIKey"))}),
		"SigningKey":     obj([]string{"kid", "createdAt", "notAfter"}, openapi3.Schemas{"kid": str("The key id (kid of tokens and JWKS)"), "createdAt": restapi.Timestamp(), "notAfter": nullTime("When it stops verifying; null: in use")}),
		"SigningKeyList": obj([]string{"items"}, openapi3.Schemas{"items": restapi.ArrayOf(restapi.SchemaRef("SigningKey"))}),
		"JWKS": restapi.Object([]string{"keys"}, openapi3.Schemas{"keys": restapi.ArrayOf(restapi.Object([]string{"kty", "kid"},
			openapi3.Schemas{"kty": str("The key type"), "kid": str("The key id"), "alg": str("The algorithm"), "use": str(`"sig"`)}, false))}, false),
	}
}
