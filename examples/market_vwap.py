"""Market VWAP: per-symbol volume-weighted average price and rolling volatility, live.

A simulated market-data feed delivers ticks in batches (pandas DataFrames of
``symbol``, ``price``, ``volume`` on a time index), as a market-data callback would. The
streaming DataFrame computes, after every batch:

* the VWAP of each symbol over all ticks so far: ``sum(price * volume) / sum(volume)``
  per symbol, from two running ``groupby`` sums (updated per batch, never recomputed);
* a rolling volatility: the standard deviation of one symbol's price over its last 50
  ticks, for every tick (pandas ``rolling(50).std()`` across batch boundaries).

A batch with a wrong column is refused with an error naming it, and nothing already
accepted changes. Run it with ``python examples/market_vwap.py [batches]``.
"""

from __future__ import annotations

import sys

import numpy as np
import pandas as pd

from streams import Stream
from streams.dataframe import DataFrame

SYMBOLS = ("AAPL", "MSFT", "NVDA")
START_PRICES = {"AAPL": 190.0, "MSFT": 410.0, "NVDA": 120.0}


def ticks(batches: int, rows: int = 200, seed: int = 3) -> list[pd.DataFrame]:
    """``batches`` DataFrames of simulated ticks: a random walk per symbol."""
    rng = np.random.default_rng(seed)
    prices = dict(START_PRICES)
    clock = pd.Timestamp("2026-12-07 14:30:00")
    out = []
    for _ in range(batches):
        symbols = rng.choice(SYMBOLS, size=rows)
        price = np.empty(rows)
        for i, symbol in enumerate(symbols):
            prices[symbol] *= float(np.exp(rng.normal(0, 0.0005)))
            price[i] = round(prices[symbol], 2)
        index = clock + pd.to_timedelta(np.cumsum(rng.integers(1, 50, rows)), unit="ms")
        clock = index[-1]
        out.append(
            pd.DataFrame(
                {
                    "symbol": pd.array(symbols, dtype="str"),
                    "price": price,
                    "volume": rng.integers(1, 500, rows),
                },
                index=index,
            )
        )
    return out


def build(source: Stream[pd.DataFrame]) -> tuple[DataFrame, list, list]:
    example = pd.DataFrame(
        {
            "symbol": pd.Series([], dtype="str"),
            "price": pd.Series([], dtype="float64"),
            "volume": pd.Series([], dtype="int64"),
        },
        index=pd.DatetimeIndex([]),
    )
    sdf = DataFrame(source, example=example)
    notional = sdf.assign(notional=sdf.price * sdf.volume)
    traded = notional.groupby("symbol").notional.sum()
    volume = notional.groupby("symbol").volume.sum()
    vwap = (traded / volume).stream.sink_to_list()

    nvda = sdf[sdf.symbol == "NVDA"].price
    vol = nvda.rolling(50).std().stream.sink_to_list()
    return sdf, vwap, vol


def main(batches: int = 20) -> None:
    source: Stream[pd.DataFrame] = Stream()
    sdf, vwap, vol = build(source)
    data = ticks(batches)
    for batch in data:
        sdf.emit(batch)
    try:
        sdf.emit(data[0].rename(columns={"volume": "qty"}))
    except IndexError as exc:
        print(f"refused: {exc}")
    latest = vwap[-1]
    for symbol in SYMBOLS:
        print(f"VWAP {symbol}: {latest[symbol]:.4f}")
    rolling = pd.concat(vol)
    print(f"NVDA price std over the last 50 ticks: {rolling.iloc[-1]:.6f}")
    print(f"{len(rolling)} NVDA ticks, {int(rolling.notna().sum())} full windows")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 20)
