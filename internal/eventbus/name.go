package eventbus

import (
	"regexp"

	"github.com/basaltdev/basalt/internal/fault"
)

// RelayName is the cursor name the relay keeps its own position under; no
// consumer may take it.
const RelayName = "relay"

// consumerName is the shape of a consumer's name: it becomes a cursor's
// key, a Kafka consumer group's suffix and a metric label value.
var consumerName = regexp.MustCompile(`^[a-z][a-z0-9._-]{0,63}$`)

// CheckConsumerName returns a fault.Invalid error unless name can name a
// durable consumer: a lower-case letter, then up to 63 lower-case letters,
// digits, '.', '_' or '-', and not the relay's reserved name.
func CheckConsumerName(name string) error {
	const op = "eventbus.CheckConsumerName"
	if !consumerName.MatchString(name) {
		return fault.Newf(fault.Invalid, op, "consumer name %q must be a lower-case letter followed by up to 63 lower-case letters, digits, '.', '_' or '-'", name)
	}
	if name == RelayName {
		return fault.Newf(fault.Invalid, op, "consumer name %q is reserved for the relay", name)
	}
	return nil
}
