package daemon

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/vnum/vnum/routing/redisstore"
)

// retentionMetrics count what the sweep deletes for retention and the
// recording files it could not delete.
type retentionMetrics struct {
	expired *prometheus.CounterVec // kind: cdr, recording, voicemail
	files   *prometheus.CounterVec // result: deleted, failed
	queue   prometheus.Gauge
}

func newRetentionMetrics(reg prometheus.Registerer) retentionMetrics {
	m := retentionMetrics{
		expired: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "vnum_retention_expired_total",
			Help: "Records deleted because their retention period ended, by kind (cdr, recording, voicemail)."}, []string{"kind"}),
		files: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "vnum_recording_deletions_total",
			Help: "Attempts to delete a queued recording file from the PBX, by result (deleted, failed: it stays queued)."}, []string{"result"}),
		queue: prometheus.NewGauge(prometheus.GaugeOpts{Name: "vnum_recording_deletion_queue",
			Help: "Recording files waiting for deletion from the PBX after the last sweep."}),
	}
	for _, k := range []string{"cdr", "recording", "voicemail"} {
		m.expired.WithLabelValues(k)
	}
	m.files.WithLabelValues("deleted")
	m.files.WithLabelValues("failed")
	reg.MustRegister(m.expired, m.files, m.queue)
	return m
}

// deletionsPerSweep bounds the recording files one sweep deletes, so a
// long queue (a PBX that was away) drains over several minutes instead of
// holding the sweep lock past its time.
const deletionsPerSweep = 500

// retain deletes the records whose retention ended, then the queued
// recording files (through the PBX driver: records past retention, released
// numbers', vnumctl purge's). A file the PBX fails to delete stays queued
// and is counted; the next sweep tries again.
func (d *Daemon) retain(ctx context.Context) {
	ex, err := d.store.EnforceRetention(ctx, time.Now())
	d.ret.expired.WithLabelValues("cdr").Add(float64(ex.CDRs))
	d.ret.expired.WithLabelValues("recording").Add(float64(ex.Recordings))
	d.ret.expired.WithLabelValues("voicemail").Add(float64(ex.Voicemails))
	if ex != (redisstore.Expired{}) {
		d.log.Info("retention", "cdrs", ex.CDRs, "recordings", ex.Recordings, "voicemails", ex.Voicemails, "files_queued", ex.FilesQueued)
	}
	if err != nil {
		d.log.Warn("retention sweep", "err", err)
	}
	dr, err := d.store.DrainDeletions(ctx, d.cfg.Driver, deletionsPerSweep)
	d.ret.files.WithLabelValues("deleted").Add(float64(dr.Deleted))
	d.ret.files.WithLabelValues("failed").Add(float64(dr.Failed))
	if err != nil {
		d.log.Warn("recording deletion queue", "err", err)
		return
	}
	d.ret.queue.Set(float64(dr.Left))
	if dr.Failed > 0 {
		d.log.Warn("recording files not deleted: they stay queued", "failed", dr.Failed, "deleted", dr.Deleted, "queued", dr.Left, "err", dr.Err)
	} else if dr.Deleted > 0 {
		d.log.Info("recording files deleted", "deleted", dr.Deleted, "queued", dr.Left)
	}
}
