package main

import (
	"context"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/unspoof/unspoof"
)

// ftmEntity is one FollowTheMoney entity: {"id", "schema", "properties": {name: [values]}}.
type ftmEntity struct {
	ID         string              `json:"id"`
	Schema     string              `json:"schema"`
	Properties map[string][]string `json:"properties"`
}

// ftmService names the spoofing service in UserAccount.service.
const ftmService = "spoofing service (unspoof evidence)"

// writeSuspectsFtM writes ss as FollowTheMoney entities, one per line. Per suspect: a
// LegalEntity for the unknown person behind the account (FtM's Call.caller, Payment.payer and
// UserAccount.owner take a LegalEntity, not an account), the UserAccount it owns, its Payments,
// its Calls over 60 s, and an Organization per organisation impersonated (once in the file).
// Ids are stable: "unspoof-holder-EXT", "unspoof-account-EXT", "unspoof-payment-ID",
// "unspoof-call-ID", "unspoof-org-EXT".
func writeSuspectsFtM(ctx context.Context, w io.Writer, s caseStore, ss []*unspoof.Suspect) error {
	enc := json.NewEncoder(w)
	seenOrg := map[int64]bool{}
	add := func(props map[string][]string, k, v string) {
		if v != "" {
			props[k] = append(props[k], v)
		}
	}
	for _, sp := range ss {
		holder := "unspoof-holder-" + sp.ExternalID
		p := map[string][]string{}
		add(p, "name", "holder of account "+sp.ExternalID)
		add(p, "country", strings.ToLower(sp.Country))
		add(p, "notes", fmt.Sprintf("unspoof suspects rank %d by rule %s, harm %.2f", sp.Rank, sp.Rule, sp.Score))
		if err := enc.Encode(ftmEntity{ID: holder, Schema: "LegalEntity", Properties: p}); err != nil {
			return err
		}
		p = map[string][]string{}
		add(p, "username", sp.Username)
		if sp.Username == "" {
			add(p, "username", sp.ExternalID) // required by the schema
		}
		add(p, "service", ftmService)
		add(p, "owner", holder)
		add(p, "notes", "account id "+sp.ExternalID+" at the service")
		if err := enc.Encode(ftmEntity{ID: "unspoof-account-" + sp.ExternalID, Schema: "UserAccount", Properties: p}); err != nil {
			return err
		}
		payments, err := s.FindPayments(ctx, sp.AccountID)
		if err != nil {
			return err
		}
		for _, pay := range payments {
			p := map[string][]string{}
			add(p, "payer", holder)
			add(p, "amount", strconv.FormatFloat(float64(pay.AmountMinor)/100, 'f', 2, 64))
			add(p, "currency", pay.Currency)
			add(p, "date", pay.PaidAt.Format(time.RFC3339))
			add(p, "transactionNumber", pay.ExternalID)
			add(p, "purpose", "payment to the spoofing service ("+pay.Method+")")
			if err := enc.Encode(ftmEntity{ID: "unspoof-payment-" + strconv.FormatInt(pay.ID, 10), Schema: "Payment",
				Properties: p}); err != nil {
				return err
			}
		}
		a, err := readActivity(ctx, s, sp.AccountID, 60*time.Second)
		if err != nil {
			return err
		}
		for _, im := range a.orgs {
			if seenOrg[im.org.ID] {
				continue
			}
			seenOrg[im.org.ID] = true
			p := map[string][]string{}
			add(p, "name", im.org.Name)
			add(p, "sector", im.org.Sector)
			add(p, "country", im.org.Country)
			if err := enc.Encode(ftmEntity{ID: "unspoof-org-" + im.org.ExternalID, Schema: "Organization", Properties: p}); err != nil {
				return err
			}
		}
		for _, c := range a.calls {
			if c.Duration <= 60*time.Second {
				continue // only calls over 60 s: documented in --help
			}
			p := map[string][]string{}
			add(p, "caller", holder)
			add(p, "callerNumber", c.CLI.E164)
			if c.CLI.E164 == "" {
				add(p, "callerNumber", c.CLI.Raw)
			}
			add(p, "receiverNumber", c.Callee.E164)
			add(p, "date", c.StartedAt.Format(time.RFC3339))
			add(p, "duration", strconv.FormatInt(int64(c.Duration/time.Second), 10))
			if o := a.orgByNum[c.CLI.E164]; o != nil && c.CLI.E164 != "" {
				add(p, "description", "presented the number of "+o.Name)
			}
			if err := enc.Encode(ftmEntity{ID: "unspoof-call-" + strconv.FormatInt(c.ID, 10), Schema: "Call", Properties: p}); err != nil {
				return err
			}
		}
	}
	return nil
}

// GraphML document, as encoding/xml writes it.
type (
	graphML struct {
		XMLName xml.Name     `xml:"graphml"`
		XMLNS   string       `xml:"xmlns,attr"`
		Keys    []graphKey   `xml:"key"`
		Graph   graphMLGraph `xml:"graph"`
	}
	graphKey struct {
		ID   string `xml:"id,attr"`
		For  string `xml:"for,attr"`
		Name string `xml:"attr.name,attr"`
		Type string `xml:"attr.type,attr"`
	}
	graphMLGraph struct {
		ID          string      `xml:"id,attr"`
		EdgeDefault string      `xml:"edgedefault,attr"`
		Nodes       []graphNode `xml:"node"`
		Edges       []graphEdge `xml:"edge"`
	}
	graphNode struct {
		ID   string      `xml:"id,attr"`
		Data []graphData `xml:"data"`
	}
	graphEdge struct {
		Source string      `xml:"source,attr"`
		Target string      `xml:"target,attr"`
		Data   []graphData `xml:"data"`
	}
	graphData struct {
		Key   string `xml:"key,attr"`
		Value string `xml:",chardata"`
	}
)

// writeSuspectsGraphML writes a graph of ss, their victims (UK numbers reached by a call over
// 60 s) and the organisations they impersonated. Edges: account→victim (calls to the number),
// account→organisation (calls presenting its number), victim→organisation (calls to the
// victim presenting its number, summed over the accounts).
func writeSuspectsGraphML(ctx context.Context, w io.Writer, s caseStore, ss []*unspoof.Suspect) error {
	doc := graphML{XMLNS: "http://graphml.graphdrawing.org/xmlns",
		Keys: []graphKey{
			{ID: "type", For: "node", Name: "type", Type: "string"},
			{ID: "label", For: "node", Name: "label", Type: "string"},
			{ID: "harm", For: "node", Name: "harm", Type: "double"},
			{ID: "calls", For: "edge", Name: "calls", Type: "int"},
		},
		Graph: graphMLGraph{ID: "suspects", EdgeDefault: "directed"}}
	node := func(id, typ, label string, extra ...graphData) {
		doc.Graph.Nodes = append(doc.Graph.Nodes, graphNode{ID: id,
			Data: append([]graphData{{Key: "type", Value: typ}, {Key: "label", Value: label}}, extra...)})
	}
	edge := func(from, to string, calls int) {
		doc.Graph.Edges = append(doc.Graph.Edges, graphEdge{Source: from, Target: to,
			Data: []graphData{{Key: "calls", Value: strconv.Itoa(calls)}}})
	}
	seen := map[string]bool{}
	victimOrg := map[[2]string]int{}
	var victimOrgOrder [][2]string
	for _, sp := range ss {
		acct := "account:" + sp.ExternalID
		node(acct, "account", sp.ExternalID, graphData{Key: "harm", Value: strconv.FormatFloat(sp.Score, 'f', 2, 64)})
		a, err := readActivity(ctx, s, sp.AccountID, 60*time.Second)
		if err != nil {
			return err
		}
		orgIDs := map[int64]string{}
		for _, im := range a.orgs {
			id := "org:" + im.org.ExternalID
			orgIDs[im.org.ID] = id
			if !seen[id] {
				seen[id] = true
				node(id, "organisation", im.org.Name)
			}
			edge(acct, id, im.calls)
		}
		for _, r := range a.victims {
			id := "victim:" + r.e164
			if !seen[id] {
				seen[id] = true
				node(id, "victim", r.e164)
			}
			edge(acct, id, r.calls)
			orgs := slices.Sorted(maps.Keys(r.orgCalls))
			for _, org := range orgs {
				n := r.orgCalls[org]
				k := [2]string{id, orgIDs[org]}
				if _, ok := victimOrg[k]; !ok {
					victimOrgOrder = append(victimOrgOrder, k)
				}
				victimOrg[k] += n
			}
		}
	}
	for _, k := range victimOrgOrder {
		edge(k[0], k[1], victimOrg[k])
	}
	if _, err := io.WriteString(w, xml.Header); err != nil {
		return err
	}
	enc := xml.NewEncoder(w)
	enc.Indent("", "  ")
	if err := enc.Encode(doc); err != nil {
		return err
	}
	_, err := io.WriteString(w, "\n")
	return err
}
