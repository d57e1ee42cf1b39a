package restapi

import (
	"net/http"
	"strconv"

	"github.com/getkin/kin-openapi/openapi3"
)

// The header components that describe the rate-limit fields.
const (
	headerRateLimit       = "RateLimit"
	headerRateLimitPolicy = "RateLimit-Policy"
	headerRetryAfter      = "Retry-After"
)

// rateLimitHeaders are the components of the fields of
// draft-ietf-httpapi-ratelimit-headers-10 and of Retry-After.
func rateLimitHeaders() openapi3.Headers {
	return openapi3.Headers{
		headerRateLimitPolicy: header(`The rate-limit policies applied to the request, one per limit checked (the caller's address, then the caller): ` +
			`"<class>-<key kind>";q=<requests at once>;w=<seconds for an empty budget to fill>, ` +
			`like "read-ip";q=1000;w=4, "read-account";q=200;w=4. A collection's own policy is named "<collection>.<class>-<key kind>". ` +
			`Absent when rate limits are off.`),
		headerRateLimit: header(`The state of the most restrictive policy applied: "<policy>";r=<requests left now>;t=<seconds until the budget is full>, ` +
			`like "read-account";r=57;t=1.`),
		headerRetryAfter: header("Whole seconds to wait before trying again."),
	}
}

// addRateLimitAnswers describes the rate limits on every operation of doc:
// the 429 answer, and the RateLimit fields on every answer.
func addRateLimitAnswers(doc *openapi3.T) {
	if doc.Components.Headers == nil {
		doc.Components.Headers = openapi3.Headers{}
	}
	for name, h := range rateLimitHeaders() {
		doc.Components.Headers[name] = h
	}
	too := strconv.Itoa(http.StatusTooManyRequests)
	for _, item := range doc.Paths.Map() {
		for _, op := range item.Operations() {
			if op.Responses == nil {
				continue
			}
			if op.Responses.Value(too) == nil {
				op.Responses.Set(too, &openapi3.ResponseRef{Ref: "#/components/responses/Problem429"})
			}
			for _, r := range op.Responses.Map() {
				if r.Ref == "" && r.Value != nil {
					withRateLimitHeaders(r.Value)
				}
			}
		}
	}
	for name, r := range doc.Components.Responses {
		if r.Value == nil {
			continue
		}
		withRateLimitHeaders(r.Value)
		if name == "Problem429" || name == "Problem503" {
			r.Value.Headers[headerRetryAfter] = &openapi3.HeaderRef{Ref: "#/components/headers/" + headerRetryAfter}
		}
	}
}

// withRateLimitHeaders adds the RateLimit fields to r.
func withRateLimitHeaders(r *openapi3.Response) {
	if r.Headers == nil {
		r.Headers = openapi3.Headers{}
	}
	for _, name := range []string{headerRateLimitPolicy, headerRateLimit} {
		r.Headers[name] = &openapi3.HeaderRef{Ref: "#/components/headers/" + name}
	}
}
