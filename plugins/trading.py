"""Trading context plugin: market microstructure, execution, risk and backtesting notes."""

from __future__ import annotations

from ai_workbench.chat.plugins import KnowledgePlugin, Section

SECTIONS: tuple[Section, ...] = (
    Section(
        "Order book and market microstructure",
        "order book, orderbook, limit order book, lob, microstructure, bid ask, spread, "
        "depth, tick size, queue position, price level, l2, l3",
        "A limit order book holds resting bids and asks by price level; best bid/ask form the "
        "top of book and their difference is the spread. L1 = top of book, L2 = aggregated "
        "size per level, L3 = individual orders. Most venues match by price-time priority, so "
        "queue position matters for passive fills. Tick size bounds the minimum spread; large-"
        "tick instruments have long queues. Build books from incremental updates keyed by "
        "order id, verify sequence numbers, and resync from a snapshot on any gap.",
    ),
    Section(
        "Order types and lifecycle",
        "order type, limit order, market order, ioc, fok, stop order, iceberg, peg, "
        "post only, time in force, cancel replace, order state, fill",
        "Limit: price-bounded; market: immediate at any price (dangerous in thin books); IOC "
        "fills what it can and cancels the rest; FOK is all-or-nothing; post-only rejects if it "
        "would take liquidity; iceberg shows a small display quantity; pegged orders track a "
        "reference price. Model the lifecycle as an explicit state machine (new, acknowledged, "
        "partially filled, filled, pending cancel/replace, cancelled, rejected, expired) and "
        "handle fills arriving after a cancel request - they are normal, not errors.",
    ),
    Section(
        "Order-book imbalance and microprice",
        "imbalance, order book imbalance, obi, queue imbalance, microprice, "
        "order flow imbalance, ofi, book pressure",
        "Order-book imbalance I = (Vbid - Vask) / (Vbid + Vask) using top-of-book (or the first "
        "k levels, optionally distance-weighted) sizes; I ranges from -1 to 1 and positive "
        "values predict short-horizon upticks. Microprice = (Pask*Vbid + Pbid*Vask)/(Vbid+Vask) "
        "is a better fair value than mid for large-tick assets. Order flow imbalance (OFI) "
        "measures changes in queue sizes between updates and explains short-term price moves "
        "better than static depth. Signals decay within milliseconds to seconds; beware "
        "spoofed or fleeting liquidity, and evaluate after fees and spread.",
    ),
    Section(
        "VWAP, TWAP and POV execution",
        "vwap, twap, pov, participation, execution algorithm, algo, schedule, "
        "implementation shortfall, arrival price, benchmark",
        "VWAP = sum(price*volume)/sum(volume); a VWAP algo slices the parent order along a "
        "historical intraday volume curve. TWAP slices evenly in time (randomise sizes and "
        "timings to avoid being detected). POV trades a fixed share of market volume, so "
        "duration is unknown in advance. Implementation shortfall measures cost versus the "
        "arrival price and captures delay, impact and opportunity cost. Always cap "
        "participation and handle auctions, halts and limit prices explicitly.",
    ),
    Section(
        "Slippage and market impact",
        "slippage, market impact, impact, transaction cost, tca, cost model, square root, "
        "adverse selection, fee, rebate",
        "Slippage = execution price minus decision/arrival price (signed by side). Market "
        "impact grows roughly with the square root of size relative to daily volume: impact ~ "
        "k * sigma * sqrt(Q / ADV). Split into temporary (decays) and permanent impact. Passive "
        "orders avoid the spread but suffer adverse selection - you get filled when the price "
        "is about to move against you. Include maker/taker fees, rebates, borrow and financing "
        "in every cost estimate and measure realised costs with TCA.",
    ),
    Section(
        "Pre-trade risk limits and kill switches",
        "risk, risk check, pre trade, limit, kill switch, fat finger, price collar, "
        "max notional, position limit, throttle, self trade, 15c3 5, circuit breaker",
        "Pre-trade checks sit inline in the order path and fail closed: max order quantity and "
        "notional, price collars versus a reference price, position and gross/net exposure "
        "limits, open-order and message-rate throttles, duplicate-order detection, self-trade "
        "prevention and restricted lists. A kill switch cancels all open orders and blocks new "
        "ones per strategy, account or firm; test it regularly. Track risk on acknowledged plus "
        "pending orders, not only fills, to avoid exceeding limits during bursts.",
    ),
    Section(
        "FIX protocol",
        "fix protocol, fix message, fix engine, fix tag, fix session, clordid, "
        "execution report, sequence number, resend request, heartbeat, quickfix, drop copy, "
        "35 d, 35 8",
        "FIX sessions are stateful: MsgSeqNum must be contiguous per direction; gaps trigger a "
        "ResendRequest (35=2) and duplicates carry PossDupFlag (43=Y). NewOrderSingle (35=D), "
        "ExecutionReport (35=8), OrderCancelRequest (35=F), CancelReplace (35=G). ClOrdID must "
        "be unique per session day; cancel/replace chains use OrigClOrdID. Read ExecType (150) "
        "and OrdStatus (39) together. Persist sequence numbers and outbound messages to survive "
        "restarts, and reconcile against the drop copy.",
    ),
    Section(
        "Backtesting pitfalls",
        "backtest, backtesting, look ahead, lookahead, survivorship, overfit, overfitting, "
        "data snooping, walk forward, out of sample, simulation, fill model, sharpe",
        "Look-ahead bias: features or signals using data not available at decision time "
        "(closing prices, revised data, future index membership, centred windows). "
        "Survivorship bias: universes without delisted instruments. Fill realism: no fills at "
        "mid, model spread, queue position, latency, partial fills, fees and impact. "
        "Overfitting: count every variant tried, hold out data, use walk-forward validation and "
        "deflated Sharpe ratios. Align time zones and bar timestamps, adjust for corporate "
        "actions, and check capacity at realistic size.",
    ),
    Section(
        "Position and PnL accounting",
        "pnl, p&l, position, realized, realised, unrealized, unrealised, mark to market, "
        "average cost, fifo, inventory, exposure",
        "Position = sum of signed fills. Realised PnL comes from closing trades (method: FIFO, "
        "LIFO or average cost - choose and document one); unrealised PnL marks the open "
        "position to a price (mid, last, or bid/ask by side). Total PnL = realised + unrealised "
        "- fees. Use decimal or integer ticks, never binary floats, for prices and quantities "
        "in the books of record. Reconcile positions daily against the broker or clearing "
        "firm, and handle corrections and busted trades.",
    ),
    Section(
        "Latency engineering",
        "latency, low latency, tick to trade, jitter, hot path, kernel bypass, busy poll, "
        "cpu pinning, ptp, timestamp, nanosecond, microsecond, gc",
        "Measure tick-to-trade end to end with hardware or NIC timestamps and report "
        "percentiles (p50/p99/p99.9/max), not averages. On the hot path: no allocation, no "
        "locks, no syscalls, no logging I/O; pre-allocate, use lock-free SPSC queues, pin "
        "threads to isolated cores, busy-poll, consider kernel bypass. Avoid GC pauses (or "
        "tune/disable them), page faults (pre-touch, huge pages) and branchy code. Synchronise "
        "clocks with PTP and know the error bars before comparing timestamps across hosts.",
    ),
    Section(
        "Market data feeds",
        "market data, feed, feed handler, multicast, snapshot, gap, itch, conflation, "
        "tick data, quote, trade print, normalization, normalisation",
        "Venues publish incremental updates over multicast, often on redundant A/B lines: "
        "arbitrate by sequence number and take the first copy. On a gap, mark the book stale, "
        "request retransmission or rebuild from a snapshot, and do not trade on it meanwhile. "
        "Keep exchange, gateway and receive timestamps separately. Conflate for consumers that "
        "cannot keep up, but never for the book builder. Record raw packets for deterministic "
        "replay in tests and backtests.",
    ),
    Section(
        "Deterministic event processing and replay",
        "deterministic, replay, event sourcing, event log, journal, sequencer, recovery, "
        "state machine, audit",
        "Run strategy and risk logic as deterministic state machines driven by an ordered "
        "event log (market data, acks, fills, timers). The same log must yield the same "
        "decisions, which enables replay debugging, backtest/production parity and audit. Inject "
        "time and randomness as inputs, avoid iteration over unordered containers in decision "
        "logic, and snapshot state periodically for fast recovery.",
    ),
)

CHECKLIST: tuple[str, ...] = (
    "Are risk checks inline in the order path, failing closed, with a tested kill switch?",
    "Is the order lifecycle an explicit state machine that tolerates late fills and rejects?",
    "Are sequence gaps in market data and FIX sessions detected and recovered?",
    "Are prices and quantities exact (decimal or integer ticks), with units and side explicit?",
    "Is latency measured end to end in percentiles on the real path?",
    "Can the system replay a recorded day deterministically?",
    "Does the backtest avoid look-ahead and survivorship bias and model costs and fills?",
)


class TradingPlugin(KnowledgePlugin):
    name = "Trading"
    description = "Market microstructure, execution algorithms, risk limits, FIX and backtesting"
    sections = SECTIONS
    checklist = CHECKLIST
    extensions = {  # noqa: RUF012 - read-only class data
        ".fix": ("fix protocol",),
        ".pcap": ("market data",),
        ".itch": ("market data",),
    }
