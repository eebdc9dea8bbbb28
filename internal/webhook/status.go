package webhook

import (
	"context"
	"time"
)

// Store is what the dispatcher needs from the configuration store
// (*redisstore.Store implements it).
type Store interface {
	// Webhooks returns every configured endpoint, secrets included.
	Webhooks(ctx context.Context) ([]Endpoint, error)
	// RecordWebhookStatus adds d to an endpoint's status record; it must
	// write nothing for an endpoint that no longer exists.
	RecordWebhookStatus(ctx context.Context, id string, d StatusDelta) error
}

// StatusDelta is what happened to an endpoint's deliveries since the last
// status write.
type StatusDelta struct {
	Delivered, Failed, Dropped int64
	// LastError and LastErrorAt describe the latest failed delivery (empty
	// and zero when none since the last write).
	LastError   string
	LastErrorAt time.Time
	// LastSuccess is when the latest delivery succeeded (zero when none).
	LastSuccess time.Time
}

// Empty reports whether d records nothing.
func (d StatusDelta) Empty() bool {
	return d.Delivered == 0 && d.Failed == 0 && d.Dropped == 0 && d.LastErrorAt.IsZero() && d.LastSuccess.IsZero()
}

// Status is an endpoint's delivery record, as vnumd wrote it.
type Status struct {
	ID          string    `json:"id"`
	Delivered   int64     `json:"delivered"`
	Failed      int64     `json:"failed"`
	Dropped     int64     `json:"dropped"`
	LastError   string    `json:"last_error,omitempty"`
	LastErrorAt time.Time `json:"last_error_at,omitzero"`
	LastSuccess time.Time `json:"last_success,omitzero"`
}
