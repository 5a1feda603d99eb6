package postgres

import (
	"context"
	"fmt"

	"github.com/unspoof/unspoof"
)

// The statements of a purge. $1 is the cut-off (reports' created_at, messages' updated_at). The
// order matters: rows that refer to a report or a message go first.
const (
	purgeReportsCount = `SELECT count(*), coalesce(sum(loss_minor) FILTER (WHERE lost), 0)::bigint,
		(SELECT count(DISTINCT ra.account_id) FROM report_accounts ra JOIN reports r ON r.id = ra.report_id WHERE r.created_at < $1)
		FROM reports WHERE created_at < $1`
	// The suspects' linked losses, without the reports about to go (as SaveReportLink keeps them).
	purgeReportsSuspects = `UPDATE suspects s SET loss_minor = (SELECT coalesce(sum(ra.loss_minor), 0)
			FROM report_accounts ra JOIN reports r ON r.id = ra.report_id
			WHERE ra.account_id = s.account_id AND r.created_at >= $1)
		WHERE s.account_id IN (SELECT ra.account_id FROM report_accounts ra JOIN reports r ON r.id = ra.report_id WHERE r.created_at < $1)`
	purgeReportCalls    = `DELETE FROM report_calls WHERE report_id IN (SELECT id FROM reports WHERE created_at < $1)`
	purgeReportAccounts = `DELETE FROM report_accounts WHERE report_id IN (SELECT id FROM reports WHERE created_at < $1)`
	purgeReports        = `DELETE FROM reports WHERE created_at < $1`

	// purgeMessageIDs selects the messages a purge removes: final, of a finished campaign, old.
	purgeMessageIDs = `SELECT m.id FROM messages m JOIN campaigns c ON c.id = m.campaign_id
		WHERE c.state IN ('done', 'cancelled') AND m.state IN ('delivered', 'failed', 'expired', 'suppressed') AND m.updated_at < $1`
	purgeReceipts = `DELETE FROM receipts WHERE message_id IN (` + purgeMessageIDs + `)`
	purgeSMSCIDs  = `DELETE FROM smsc_ids WHERE message_id IN (` + purgeMessageIDs + `)`
	purgeMessages = `DELETE FROM messages WHERE id IN (` + purgeMessageIDs + `)`

	purgeAudit = `INSERT INTO audit_log (at, actor, action, object, detail) VALUES ($1, $2, 'purge', 'personal data', $3)`
)

// PurgePersonalData removes the reports and messages p selects, in one transaction, with the
// audit entry that records it. PostgreSQL keeps the removed rows' bytes in the table files until
// VACUUM reuses their space (see docs/operations.md).
func (db *DB) PurgePersonalData(ctx context.Context, p *unspoof.Purge) (*unspoof.PurgeResult, error) {
	tx, err := db.pool.Begin(ctx)
	if err != nil {
		return nil, fmt.Errorf("purge: %w", err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	var res unspoof.PurgeResult
	exec := func(q string, arg any) (int64, error) {
		tag, err := tx.Exec(ctx, q, arg)
		return tag.RowsAffected(), err
	}
	if !p.ReportsBefore.IsZero() {
		cut := p.ReportsBefore
		if err := tx.QueryRow(ctx, purgeReportsCount, cut).Scan(&res.Reports, &res.ReportLoss, &res.LinkedAccounts); err != nil {
			return nil, fmt.Errorf("purge reports: %w", err)
		}
		for _, q := range []string{purgeReportsSuspects, purgeReportCalls, purgeReportAccounts, purgeReports} {
			if _, err := exec(q, cut); err != nil {
				return nil, fmt.Errorf("purge reports: %w", err)
			}
		}
	}
	if !p.MessagesBefore.IsZero() {
		// Receipts are matched and stored under receiptsLock, and nothing holds a message's id
		// by a foreign key: taking the lock, the purge sees every receipt stored so far, and a
		// receipt stored after it matches no purged message (their SMSC ids go with them).
		cut := p.MessagesBefore
		if _, err = tx.Exec(ctx, lockReceipts, int64(receiptsLock)); err == nil {
			res.Receipts, err = exec(purgeReceipts, cut)
		}
		if err == nil {
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
	if _, err := tx.Exec(ctx, purgeAudit, p.At, p.By, p.AuditDetail(&res)); err != nil {
		return nil, fmt.Errorf("purge: audit: %w", err)
	}
	if err := tx.Commit(ctx); err != nil {
		return nil, fmt.Errorf("purge: %w", err)
	}
	return &res, nil
}
