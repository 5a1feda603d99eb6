// Package simulate generates a calibrated synthetic dataset of the kind police seize from a
// caller-ID spoofing service, with the ground truth of who was defrauded, so that ingest, victim
// scoring, campaigns and reports can be built and measured on data of the real size and shape
// without touching anyone's real number.
//
// Run writes, into one directory:
//
//	accounts.csv  account_id,username,email,country,signup_at,ips
//	payments.csv  payment_id,account_id,paid_at,amount,currency,method
//	calls.csv     call_id,account_id,started_at,duration_s,cli,callee,status  (or calls.csv.gz)
//	orgs.csv      org_id,name,sector,country,number  (one row per number)
//	truth.csv     callee_e164,defrauded,loss_gbp,would_report  (one row per callee called)
//	manifest.json preset, seed, scale, synthetic, version, rows and bad rows per file, figures
//
// The same seed and scale give the same bytes. Calls are generated in time order and streamed
// to disk; memory is bounded by the number pools (two bytes per pool number) and the accounts,
// not by the calls. Check reads a dataset back and measures its figures from the files alone.
//
// # Calibration (preset ispoof)
//
// At scale 1 the data reproduce the published figures of the iSpoof case (Metropolitan Police,
// November 2022): 12 months (1 August 2021 to 31 July 2022) and 10 million calls (19 a minute on
// average); 59,000 accounts that paid the service £3.2m in bitcoin, at £150 to £5,000 a month;
// 40% of calls to the US, 35% to the UK and the rest to eight other countries; 3.5 million UK
// calls, of which 350,000 lasted over a minute and reached 200,000 UK numbers, 70,000 of them
// reached by "identified users" (UK accounts that paid at least £100); 4,785 victims who report,
// losing £10,000 on average (£47.85m in all, the largest about £3m). Counts scale linearly with
// the scale; averages and shares do not, and the largest loss is that of the top stratum of the
// reported losses at the scale (see below).
//
// Choices where nothing was published: payers are drawn in random order until the takings reach
// £3.2m, which makes about 4% of accounts (2,470) paying customers, most of them for one to
// three months; of the others, 45% of those who signed up during the year tried the service
// for three days (1.5% of the calls) and the rest never called. Pools hold 0.45 numbers per
// call to their country, a tenth of them on many lead lists (called 30% of the time). The
// truth has about 14,000 defrauded UK victims (so about a third report); UK victims who would
// not report lost £1,800 on average and victims abroad £3,500 (would_report is about reporting
// to UK police, so it is false abroad).
//
// # Time
//
// Calls arrive minute by minute as a Poisson process per destination country, at a rate that
// follows office hours and weekdays on the callee's local clock (UK, central European, US
// eastern or Brisbane time, with the daylight-saving rules computed here), is low on 25–26
// December and 1 January, and grows by a third over the year. Each slot goes to a call that is
// due on that number (a retry, a follow-up) or else starts a new episode; follow-ups are moved
// into the callee's calling hours (08:00–21:00 local).
//
// # Episodes: how a callee is treated
//
// An episode is one account's go at one number. The account is drawn among those active that
// day (paid for, or in a trial) by how busy it is and how much it calls that region; identified
// UK users get a calibrated share of the UK targets. It presents the number of an organisation
// it likes to impersonate (banks above all; UK organisations to the UK, US ones to North
// America) or, for a share of its calls, a random local number. Each attempt is answered with
// probability 0.45; unanswered, it is tried again later with probability 0.35, up to four
// attempts. An answering callee is convinced ("engaged") with probability
//
//	logistic(−3.33 + 0.9·susceptibility + 0.6·credibility + 0.4·skill + 0.35·primed)
//
// where susceptibility is a hidden standard normal trait of the number, credibility that of the
// organisation presented (bank 1, police 0.9, tax 0.7, telecom 0.4, shop or courier 0.3, random
// number 0.2), skill a trait of the account (correlated with how busy it is: accounts call at
// rates that differ by a lognormal factor, sigma 0.7, times their plan's) and primed
// the callee's answered calls so far (at most 3). An engaged callee talks for minutes (median 7).
// An unconvinced callee hangs up within seconds, or 6% of the time hears the caller out for a
// minute or more (many long calls defraud nobody); 12% are tried again another day.
//
// # Ground truth: the scam runs its course
//
// A convinced callee is not yet a victim. After each call of an engaged episode the scam takes
// one of three turns, the way bank-impersonation fraud goes: the money moves during a long
// conversation (the caller talks the victim through the transfer), or the callee sees through
// it (talks to family, rings the bank), or the caller calls back, soon ("I'm transferring you to
// our security team") or the next days ("we'll call to confirm"), and the scam goes a stage
// further. A conversation over a minute ends in a payment with probability
//
//	logistic(−8.55 + 0.8·ln(1+minutes of this call) + 1.0·stage + 0.9·credibility
//	         + 0.45·skill + 0.6·susceptibility + 0.3·primed)
//
// where stage counts the episode's conversations over a minute before this one; after a payment
// the caller comes back for more with probability 0.3, else the episode ends. Short of a
// payment, the callee sees through it with probability
//
//	logistic(1.5 − 1.0·susceptibility − 0.45·skill − 0.5·stage)
//
// and the caller tries once more, in vain (not answered, or hung up within seconds), with
// probability 0.3. Otherwise there is a call-back (answered 85% of the time, three quarters
// of those over a minute), up to six. So the calls follow the fraud: a caller keeps calling a
// callee who goes along and stops when the callee does not, and a callee still going along
// after several conversations is likely to pay. Yet no observable rule decides it:
// susceptibility and skill are hidden, a sceptical callee may talk at length before seeing
// through it, some pay on the first call, and a number on many lead lists collects long calls
// from several accounts without anyone paying. (Until generator version 2, call-backs did not
// depend on where the scam was going and the fraud was drawn once per episode from its talk
// time, so most callees still talking to the "bank" at their fourth call lost nothing.)
//
// A callee who was never convinced on a call is defrauded anyway, exceptionally, with
// probability logistic(−7.8 + 0.6·(answered calls−1) + 0.6·credibility + 0.5·susceptibility +
// 0.4·primed + 0.3·ln(1+talk minutes)) (the caller carried on by text or on another line, or had
// them ring a number), and only if they stayed on the line 20 s: someone who hangs up within
// seconds never heard the pitch. About 2% of UK victims never had a call over a minute. These
// trials are decided by systematic sampling (each with its own probability, the count within one
// of the expected count), separately for the UK and abroad; payments during calls by independent
// draws, since they shape the calls that follow. The constants −8.55 and 1.5 are set so that the
// calibrated figures hold and the UK has about 14,000 victims, as before.
//
// Once all calls are made, victims are ranked by a propensity to lose: a hidden wealth trait
// (0.7), ln(1+talk minutes) (0.35), credibility (0.3), skill (0.25), noise (0.5), plus 0.3 for
// each further time they were defrauded. UK victims report with probability
// logistic(c + 1.5·z), z the normal score of their rank and c set so that the expected number
// of reports is the target; who reports is drawn by systematic sampling. Losses are assigned in
// rank order from the strata of lognormal distributions: reporters mean £10,000, sigma 2 (the
// top of 4,785 strata is about £3m); UK victims who do not report £1,800, sigma 1.4; victims
// abroad £3,500, sigma 1.6. Stratified assignment gives the calibrated mean and tail at any
// scale; which victim gets which loss still depends on the noisy propensity.
//
// # Numbers
//
// Callee numbers come from fixed pools per country, drawn from ranges checked against
// libphonenumber (github.com/nyaruka/phonenumbers) to be valid for their country and line type
// and outside the ranges Ofcom and NANP reserve for drama: UK mobiles (80%) and London, big-city,
// Belfast and Cardiff lines; US and Canadian geographic numbers; mobiles elsewhere. They are
// written as the callers' lead lists had them: UK numbers nationally ("07911 123456",
// "(020) 7123 4567", "07911-123-456"…) or internationally ("+44 7911 123456", "00447911123456",
// "447911123456", "+44 (0)7911 123456"…); numbers abroad always with "+" or "00", because ingest
// reads numbers with default region GB. Organisations are fictional; their numbers are UK 03,
// 0800 and London numbers and US toll-free and city numbers that no victim pool uses. Emails
// use domains reserved for documentation (RFC 2606) and IP addresses the documentation ranges.
//
// # Malformed rows
//
// Config.BadRows adds, after a share of the good rows, a corrupted copy (same id) with exactly
// one defect: a field too many or too few, an unreadable time, an empty or impossible number
// (half its digits, eight digits too many, or two digits turned to letters), an unknown account,
// a negative or non-numeric duration or amount. The corruptions draw from their own random
// stream, so the good rows, and the truth, are the same bytes whatever the fraction.
package simulate
