package unspoof

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// MessagePurgeStates are the states a message must be in for a purge to remove it: final ones.
// Messages still pending, in flight, submitted or ambiguous are kept whatever their age, since
// the message state machine (never twice) needs them.
var MessagePurgeStates = []string{MessageDelivered, MessageFailed, MessageExpired, MessageSuppressed}

// Purge says what personal data a purge removes, as a retention policy decides. The evidence
// (sources, accounts, payments, calls, organisations, complaints), opt-outs and the audit log
// are never removed.
type Purge struct {
	// ReportsBefore removes the reports received before it, with their links to the evidence
	// (report_calls, report_accounts); the suspects' linked losses are recomputed without them.
	// Zero: no report is removed.
	ReportsBefore time.Time
	// MessagesBefore removes the messages of finished campaigns (done or cancelled) that are in
	// one of MessagePurgeStates and last changed before it, with their SMSC ids and receipts.
	// Zero: no message is removed.
	MessagesBefore time.Time
	// DryRun counts what would be removed and removes nothing.
	DryRun bool
	// By and Reason are recorded in the audit log, in the purge's own transaction, with At.
	By, Reason string
	At         time.Time
}

// PurgeResult counts what a purge removed (or, in a dry run, would remove).
type PurgeResult struct {
	Reports        int64 // reports removed
	ReportLoss     int64 // the losses they reported, pence
	LinkedAccounts int64 // accounts the removed reports were linked to: their linked losses drop
	Messages       int64 // messages removed
	Receipts       int64 // delivery receipts of those messages removed
}

// AuditDetail describes the purge and its result for the audit log.
func (p *Purge) AuditDetail(r *PurgeResult) string {
	var parts []string
	if !p.ReportsBefore.IsZero() {
		parts = append(parts, fmt.Sprintf("reports before %s: %d (loss %d pence, %d linked accounts)",
			p.ReportsBefore.Format(time.RFC3339), r.Reports, r.ReportLoss, r.LinkedAccounts))
	}
	if !p.MessagesBefore.IsZero() {
		parts = append(parts, fmt.Sprintf("messages before %s: %d (%d receipts)",
			p.MessagesBefore.Format(time.RFC3339), r.Messages, r.Receipts))
	}
	return strings.Join(parts, "; ") + "; reason: " + p.Reason
}

// PurgeStore removes personal data a retention policy says must go.
type PurgeStore interface {
	// PurgePersonalData removes what p selects in one transaction and, unless p.DryRun, appends
	// an audit entry (action "purge") in the same transaction, so that the removal and its
	// record are kept or lost together. A dry run runs the same statements and rolls back.
	PurgePersonalData(ctx context.Context, p *Purge) (*PurgeResult, error)
}
