package sqlite

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/unspoof/unspoof"
)

// The statements of a purge. ?1 is the cut-off in Unix milliseconds (reports' created_at,
// messages' updated_at). The order matters: rows that refer to a report or a message go first.
const (
	purgeReportsCount = `SELECT count(*), coalesce(sum(loss_minor) FILTER (WHERE lost), 0),
		(SELECT count(DISTINCT ra.account_id) FROM report_accounts ra JOIN reports r ON r.id = ra.report_id WHERE r.created_at < ?1)
		FROM reports WHERE created_at < ?1`
	// The suspects' linked losses, without the reports about to go (as SaveReportLink keeps them).
	purgeReportsSuspects = `UPDATE suspects SET loss_minor = (SELECT coalesce(sum(ra.loss_minor), 0)
			FROM report_accounts ra JOIN reports r ON r.id = ra.report_id
			WHERE ra.account_id = suspects.account_id AND r.created_at >= ?1)
		WHERE account_id IN (SELECT ra.account_id FROM report_accounts ra JOIN reports r ON r.id = ra.report_id WHERE r.created_at < ?1)`
	purgeReportCalls    = `DELETE FROM report_calls WHERE report_id IN (SELECT id FROM reports WHERE created_at < ?1)`
	purgeReportAccounts = `DELETE FROM report_accounts WHERE report_id IN (SELECT id FROM reports WHERE created_at < ?1)`
	purgeReports        = `DELETE FROM reports WHERE created_at < ?1`

	// purgeMessageIDs selects the messages a purge removes: final, of a finished campaign, old.
	purgeMessageIDs = `SELECT m.id FROM messages m JOIN campaigns c ON c.id = m.campaign_id
		WHERE c.state IN ('done', 'cancelled') AND m.state IN ('delivered', 'failed', 'expired', 'suppressed') AND m.updated_at < ?1`
	purgeReceipts = `DELETE FROM receipts WHERE message_id IN (` + purgeMessageIDs + `)`
	purgeSMSCIDs  = `DELETE FROM smsc_ids WHERE message_id IN (` + purgeMessageIDs + `)`
	purgeMessages = `DELETE FROM messages WHERE id IN (` + purgeMessageIDs + `)`

	purgeAudit = `INSERT INTO audit_log (at, actor, action, object, detail) VALUES (?, ?, 'purge', 'personal data', ?)`
)

// PurgePersonalData removes the reports and messages p selects, in one transaction, with the
// audit entry that records it. Deleted content is overwritten in the file (secure_delete), and
// the write-ahead log is checkpointed and truncated afterwards if no reader holds it, so that
// the removed rows do not linger in either.
func (db *DB) PurgePersonalData(ctx context.Context, p *unspoof.Purge) (*unspoof.PurgeResult, error) {
	conn, err := db.w.Conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("purge: %w", err)
	}
	defer conn.Close()
	if !p.DryRun {
		if _, err := conn.ExecContext(ctx, `PRAGMA secure_delete = ON`); err != nil {
			return nil, fmt.Errorf("purge: %w", err)
		}
		defer conn.ExecContext(context.WithoutCancel(ctx), `PRAGMA secure_delete = OFF`)
	}
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("purge: %w", err)
	}
	defer tx.Rollback()
	var res unspoof.PurgeResult
	exec := func(q string, arg any) (int64, error) {
		r, err := tx.ExecContext(ctx, q, arg)
		if err != nil {
			return 0, err
		}
		return r.RowsAffected()
	}
	if !p.ReportsBefore.IsZero() {
		cut := ms(p.ReportsBefore)
		if err := tx.QueryRowContext(ctx, purgeReportsCount, cut).Scan(&res.Reports, &res.ReportLoss, &res.LinkedAccounts); err != nil {
			return nil, fmt.Errorf("purge reports: %w", err)
		}
		for _, q := range []string{purgeReportsSuspects, purgeReportCalls, purgeReportAccounts, purgeReports} {
			if _, err := exec(q, cut); err != nil {
				return nil, fmt.Errorf("purge reports: %w", err)
			}
		}
	}
	if !p.MessagesBefore.IsZero() {
		cut := ms(p.MessagesBefore)
		if res.Receipts, err = exec(purgeReceipts, cut); err == nil {
			if _, err = exec(purgeSMSCIDs, cut); err == nil {
				res.Messages, err = exec(purgeMessages, cut)
			}
		}
		if err != nil {
			return nil, fmt.Errorf("purge messages: %w", err)
		}
	}
	if p.DryRun {
		return &res, nil // the deferred rollback undoes it all
	}
	if _, err := tx.ExecContext(ctx, purgeAudit, p.At.Unix(), p.By, p.AuditDetail(&res)); err != nil {
		return nil, fmt.Errorf("purge: audit: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("purge: %w", err)
	}
	checkpointTruncate(ctx, conn)
	return &res, nil
}

// checkpointTruncate copies the write-ahead log into the database file and empties it, if no
// reader is using it now; otherwise the next checkpoint does it. Its outcome changes nothing
// the caller could act on, so it is not returned.
func checkpointTruncate(ctx context.Context, conn *sql.Conn) {
	var busy, logPages, done int
	conn.QueryRowContext(ctx, `PRAGMA wal_checkpoint(TRUNCATE)`).Scan(&busy, &logPages, &done)
}
