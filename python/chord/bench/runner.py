"""Runs the suites of a :class:`BenchConfig` into one results document.

Suites are functions ``suite(ctx) -> None`` that call :meth:`RunContext.time` for each
implementation of each case; the context times it under the thread count, handles
implementations that cannot run here (recorded as *unavailable* with the reason, never a
crash), sizes weight rotation, and attaches bandwidth and ratios.
"""

from __future__ import annotations

import copy
import gc
import os
import sys
import time
from collections.abc import Callable, Iterable
from contextlib import contextmanager
from functools import partial

import torch

from chord.backends import cpu as cpu_backend
from chord.backends import fallback

from . import contend, machine, read_roof, report, results, rotation
from .baselines import Prepared, Unavailable
from .checks import WrongResult
from .config import BenchConfig
from .timed import Timed
from .timing import TimingPolicy, measure, measure_interleaved


@contextmanager
def num_threads(n: int):
    """Run with ``n`` threads: torch's pool, and chord's kernels (which take torch's count per call)."""
    old = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(old)


class RunContext:
    """Shared state of one run: config, document, per-thread bandwidth, progress output."""

    def __init__(
        self,
        cfg: BenchConfig,
        log: Callable[[str], None] | None = None,
        read_probe: Callable[[int, int, float], dict | None] | None = None,
        groups: Iterable[str] | None = None,
        bandwidth: dict | None = None,
    ):
        """``read_probe(threads, slice_bytes, seconds)``: the read roof in a short window beside a
        memory-bound case (default :class:`read_roof.AdjacentProbe`; tests pass a fake).
        ``groups``: time only the cases of these groups (None: all; :meth:`time_case`).
        ``bandwidth``: the run-level bandwidths of an earlier run (``chord.bandwidth``), taken
        instead of measuring them again."""
        self.cfg = cfg
        self.groups = None if groups is None else frozenset(groups)
        self.device = cfg.device
        self.log = log or (lambda s: print(s, file=sys.stderr, flush=True))
        self.llc = machine.last_level_cache_bytes()
        self.t0 = time.perf_counter()  # probes say when they ran, in seconds since here
        # the probe beside a memory-bound case cycles through as many bytes as that case rotates
        self.read_probe = read_probe or read_roof.AdjacentProbe(
            self.llc, target_bytes=self.rotation_target(kernels=True)
        )
        self.doc = results.new_document(machine.machine_info(cfg.device), machine.commit_info(), cfg.as_dict())
        self.doc["chord"]["errors"] = []
        self.doc["chord"]["bandwidth"].update(copy.deepcopy(bandwidth or {}))
        self.doc["chord"]["rotation_target_bytes"] = self.rotation_target()
        self.doc["chord"]["kernel_rotation_target_bytes"] = self.rotation_target(kernels=True)
        self.records: list[dict] = self.doc["benchmarks"]

    # -- facts ---------------------------------------------------------------------------
    def bandwidth(self, threads: int) -> dict:
        """Copy bandwidth at ``threads``, measured once per run and thread count."""
        key = str(threads)
        bw = self.doc["chord"]["bandwidth"]
        if key not in bw:
            with num_threads(threads):
                # over as many bytes as the kernels suite rotates: a smaller buffer left part of
                # the reads in this host's L3 (reports/2026-12-07-roof-3.md)
                bw[key] = machine.copy_bandwidth(nbytes=self.rotation_target(kernels=True), device=self.device)
            self.log(
                f"  copy bandwidth @ {threads} thread(s): {bw[key]['copy_GBps']:.1f} GB/s "
                f"(read-only {bw[key]['read_GBps']:.1f} GB/s)"
            )
        return bw[key]

    def probe(self, threads: int, nbytes: int | None) -> dict | None:
        """The read roof now, at ``threads``, reading ``nbytes`` per read, for ``cfg.roof_probe_s``
        seconds; None when not asked (``nbytes`` None, ``roof_probe_s`` 0, a GPU run) or when there
        is no probe (no C++ extension)."""
        if not nbytes or self.cfg.roof_probe_s <= 0 or self.device != "cpu":
            return None
        t0 = time.perf_counter()
        got = self.read_probe(threads, nbytes, self.cfg.roof_probe_s)
        if got is not None:
            got = dict(got, at_s=time.perf_counter() - self.t0)
        c = self.doc["chord"]  # what the probes cost the run
        c["roof_probes"] = c.get("roof_probes", 0) + 1
        c["roof_probe_elapsed_s"] = c.get("roof_probe_elapsed_s", 0.0) + time.perf_counter() - t0
        return got

    def rotation_target(self, kernels: bool = False) -> int:
        """Bytes of weight copies a case rotates through: rotate_factor x last-level cache, or for
        the kernels suite max(kernel_rotate_mb MiB, kernel_rotate_factor x last-level cache). On
        CUDA the cache is 64 MB (GPU L2 is <= 64 MB on current parts)."""
        cfg = self.cfg
        llc = 64 << 20 if self.device == "cuda" else self.llc
        if not kernels:
            return rotation.target_bytes(llc, cfg.rotate_factor)
        return rotation.target_bytes(llc, cfg.kernel_rotate_factor, cfg.kernel_rotate_mb << 20)

    def n_sets(self, bytes_per_set: float, kernels: bool = False) -> int:
        """Weight copies to rotate so their total is >= :meth:`rotation_target` (at least 2, at most
        max_sets / kernel_max_sets): memory stays within about the target plus one set."""
        cap = self.cfg.kernel_max_sets if kernels else self.cfg.max_sets
        return rotation.n_sets(bytes_per_set, self.rotation_target(kernels), cap)

    def error(self, suite: str, group: str, impl: str, reason: str) -> None:
        """``impl`` ran but computed a wrong answer: recorded under ``chord.errors`` (no time)."""
        self.doc["chord"].setdefault("errors", []).append(
            {"suite": suite, "group": group, "impl": impl, "reason": reason}
        )
        self.log(f"  {impl:<22} ERROR: {reason}")

    def unavailable(self, suite: str, group: str, impl: str, reason: str) -> None:
        self.doc["chord"]["unavailable"].append({"suite": suite, "group": group, "impl": impl, "reason": reason})
        self.log(f"  {impl:<22} unavailable: {reason}")

    # -- timing --------------------------------------------------------------------------
    def time(
        self,
        suite: str,
        group: str,
        impl: str,
        role: str,
        params: dict,
        threads: int,
        prepare: Callable[[], Prepared],
        policy: TimingPolicy | None = None,
        extra: dict | None = None,
        adjacent_roof: int | None = None,
    ) -> dict | None:
        """Prepare and time one implementation; returns its record, or None when unavailable.

        ``adjacent_roof`` (bytes, for a memory-bound case): also take the read roof right before
        and right after the rounds (:meth:`probe`, reads of that many bytes at ``threads``) and
        record it beside the run-level one (``results.add_adjacent_roof``)."""
        policy = policy or self.cfg.policy
        bw = self.bandwidth(threads)
        served = fallback.counts()
        try:
            with num_threads(threads):
                prep = self._prepared(prepare)
                # after prepare(), which can take seconds: the probes bracket the rounds alone
                before = self.probe(threads, adjacent_roof)
                pool0 = cpu_backend.pool_stats()
                stats = measure(prep.fn, policy, self.device)
                pool = {k: v - pool0.get(k, 0) for k, v in cpu_backend.pool_stats().items()}
                after = self.probe(threads, adjacent_roof)
        except Exception as e:  # noqa: BLE001 - recorded by _failed (unavailable / wrong answer)
            self._failed(suite, group, impl, e)
            return None
        rec = self._record(
            suite, group, impl, role, params, threads, prep, stats, pool, fallback.since(served), policy, extra, bw
        )
        if before and after:
            results.add_adjacent_roof(rec, before, after, self.cfg.roof_tolerance)
        self._append(rec, stats)
        del prep
        return rec

    def interleaving(self) -> bool:
        """Whether :meth:`time_case` alternates the thread counts round by round (``--contend``
        runs unless told otherwise: ``BenchConfig.interleave_threads``)."""
        il = self.cfg.interleave_threads
        return bool(self.cfg.contend) if il is None else bool(il)

    def time_case(self, suite: str, group_of: Callable[[int], str], items: list[Timed]) -> None:
        """Time each implementation of one case at every thread count of the run.

        Not interleaving (the default): row after row, every implementation at the first count,
        then every one at the next (``group_of(t)`` heads each count's rows). Interleaving
        (:meth:`interleaving`): one implementation at a time, its thread counts' rounds alternating
        (``timing.measure_interleaved``), so the rows a ratio compares saw the same minutes of the
        machine. Either way one record per implementation and thread count, in group
        ``group_of(t)``, with the same params and name.

        A run restricted to some groups (``RunContext(groups=...)``, the ``--compare`` gate's
        re-measure) times every implementation of a selected group and nothing of the others;
        interleaving, a case with any of its counts' groups selected is timed at every count,
        as it was in the run it re-measures."""
        threads = [int(t) for t in self.cfg.threads]
        if self.groups is not None and not any(group_of(t) in self.groups for t in threads):
            return
        if not self.interleaving() or len(threads) < 2:
            for t in threads:
                if self.groups is not None and group_of(t) not in self.groups:
                    continue
                self.log(f" {group_of(t)}")
                for it in items:
                    self.time(
                        suite,
                        group_of(t),
                        it.impl,
                        it.role,
                        it.params_at(t),
                        t,
                        partial(it.prepare, t),
                        it.policy,
                        it.extra,
                        it.adjacent_roof,
                    )
                gc.collect()
            return
        heads = [group_of(t) for t in threads]
        tails = [f"t={t}" for t in threads]
        if all(h.endswith(" " + tl) for h, tl in zip(heads, tails)):
            head = heads[0][: -len(tails[0])] + "t=" + ",".join(map(str, threads))
        else:
            head = " / ".join(heads)
        self.log(f" {head} (the thread counts' rounds interleaved)")
        for it in items:
            self._time_interleaved(suite, group_of, it, threads)
            gc.collect()

    def _time_interleaved(self, suite: str, group_of: Callable[[int], str], it: Timed, threads: list[int]) -> None:
        policy = it.policy or self.cfg.policy
        preps: dict[int, Prepared] = {}
        for t in threads:
            self.bandwidth(t)
            try:
                with num_threads(t):
                    preps[t] = self._prepared(partial(it.prepare, t))
            except Exception as e:  # noqa: BLE001 - recorded by _failed
                self._failed(suite, group_of(t), it.impl, e)
        if not preps:
            return
        keys = list(preps)
        pool: dict[int, dict] = {t: {} for t in keys}
        fell: dict[int, dict] = {t: {} for t in keys}
        snap: dict = {}

        def enter(t):
            torch.set_num_threads(t)
            snap["pool"], snap["fb"] = cpu_backend.pool_stats(), fallback.counts()

        def leave(t):
            for k, v in cpu_backend.pool_stats().items():
                pool[t][k] = pool[t].get(k, 0) + v - snap["pool"].get(k, 0)
            fell[t].update(fallback.since(snap["fb"]))

        old = torch.get_num_threads()
        try:
            before = {}
            for t in keys:
                with num_threads(t):
                    before[t] = self.probe(t, it.adjacent_roof)
            stats = measure_interleaved({t: preps[t].fn for t in keys}, policy, self.device, enter, leave)
            after = {}
            for t in keys:
                with num_threads(t):
                    after[t] = self.probe(t, it.adjacent_roof)
        except Exception as e:  # noqa: BLE001 - recorded by _failed
            for t in keys:
                self._failed(suite, group_of(t), it.impl, e)
            return
        finally:
            torch.set_num_threads(old)
        for t in keys:
            extra = dict(it.extra or {}, interleaved_threads=keys)
            rec = self._record(
                suite,
                group_of(t),
                it.impl,
                it.role,
                it.params_at(t),
                t,
                preps[t],
                stats[t],
                {k: v for k, v in pool[t].items()},
                fell[t],
                policy,
                extra,
                self.bandwidth(t),
            )
            if before[t] and after[t]:
                results.add_adjacent_roof(rec, before[t], after[t], self.cfg.roof_tolerance)
            self._append(rec, stats[t], f"t={t} ")
        preps.clear()

    def _prepared(self, prepare: Callable[[], Prepared]) -> Prepared:
        prep = prepare()
        if prep.check is not None:  # a wrong answer is an error, never a number
            prep.check(prep.fn(0))
        return prep

    def _failed(self, suite: str, group: str, impl: str, e: Exception) -> None:
        if isinstance(e, Unavailable):
            self.unavailable(suite, group, impl, str(e))
        elif isinstance(e, WrongResult):
            self.error(suite, group, impl, str(e))
        else:  # e.g. a GPU kernel that fails to compile: a broken implementation must not hide
            # the others' numbers; it is reported
            self.unavailable(
                suite, group, impl, f"failed: {type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"
            )

    def _record(
        self,
        suite: str,
        group: str,
        impl: str,
        role: str,
        params: dict,
        threads: int,
        prep: Prepared,
        stats: dict,
        pool: dict,
        fell_back: dict,
        policy: TimingPolicy,
        extra: dict | None,
        bw: dict,
    ) -> dict:
        ex = {
            "threads": threads,
            "n_sets": prep.n_sets,
            "note": prep.note,
            "converged": stats.pop("converged"),
            "checked": prep.check_what if prep.check is not None else None,
        }
        if any(pool.values()):  # how the C++ thread pool ran the timed calls (parallel.h)
            ex["pool"] = pool
        if fell_back:  # label what ran: the pure-torch reference, not a kernel
            ex["fallback"] = fell_back
            ex["note"] += " [pure-torch reference: " + "; ".join(f"{k} ({v})" for k, v in fell_back.items()) + "]"
        # extra is read after prepare(): a suite may fill it there (e.g. the sanity error)
        if stats.pop("single_call", False):
            ex["note"] += " (one call: slower than 4x the time budget)"
        ex.update(extra or {})
        rec = results.make_record(
            suite,
            group,
            impl,
            role,
            params,
            stats,
            ex,
            {
                "warmup": policy.warmup,
                "min_rounds": policy.min_rounds,
                "max_time": policy.max_time_s,
                "min_time": policy.min_time_s,
                "timer": stats.pop("timer"),
            },
        )
        results.add_bandwidth(rec, prep.bytes_read, bw, self.cfg.stat)
        return rec

    def _append(self, rec: dict, stats: dict, prefix: str = "") -> None:
        self.records.append(rec)
        gb = rec["extra_info"].get("GBps")
        adj = rec["extra_info"].get("read_GBps_adjacent")
        beside = ""
        if adj:
            beside = f"; read roof beside it {adj['before']:.1f} -> {adj['after']:.1f} GB/s"
            beside += " (host mode changed)" if rec["extra_info"]["host_mode_changed"] else ""
        # the row's own words (impl + variant, as the tables name it) and the run's statistic first
        # (the one its ratios use), the median beside it when that is another
        stat = self.cfg.stat
        also = "" if stat == "median" else f"median {stats['median'] * 1e3:.3f}, "
        self.log(
            f"  {prefix + report.row_label(rec):<40} {stat} {stats[stat] * 1e3:8.3f} ms{', ' + format(gb, '.1f') + ' GB/s' if gb else ''}"
            f"  ({also}IQR {stats['iqr'] * 1e3:.3f}, {stats['rounds']} rounds{beside})"
        )


def run(
    cfg: BenchConfig,
    log: Callable[[str], None] | None = None,
    read_probe: Callable[[int, int, float], dict | None] | None = None,
    groups: Iterable[str] | None = None,
    bandwidth: dict | None = None,
) -> dict:
    """Run every suite of ``cfg``; returns the results document (see ``chord.bench.results``).
    ``read_probe``: see :class:`RunContext`. ``groups``: time only the cases of these groups
    (every implementation of each, under ``cfg`` as given: the ``--compare`` gate re-measures a
    regressed case's group so, ``chord.bench.recheck``); ``bandwidth``: an earlier run's
    ``chord.bandwidth``, reused (:class:`RunContext`)."""
    from .suites import SUITES  # noqa: PLC0415 - suites import models lazily

    cfg.validate()
    ctx = RunContext(cfg, log, read_probe, groups, bandwidth)
    t0 = time.perf_counter()
    torch.manual_seed(cfg.seed)
    with contend.busy_processes(cfg.contend) as busy:
        ctx.doc["chord"]["contend"] = busy
        ctx.doc["chord"]["interleaved_threads"] = ctx.interleaving() and len(cfg.threads) > 1
        if busy:
            ctx.log(f"contended: {busy['processes']} busy loop(s) pinned to CPU(s) {busy['cpus']}")
        for name in cfg.suites:
            ctx.log(f"[{name}]")
            with torch.inference_mode():
                SUITES[name](ctx)
    results.add_ratios(ctx.records, results.REF_IMPLS, cfg.stat)
    results.add_group_roofs(ctx.records, cfg.roof_tolerance)
    ctx.doc["chord"]["stat"] = cfg.stat
    ctx.doc["chord"]["elapsed_s"] = time.perf_counter() - t0
    ctx.doc["chord"]["env"] = {k: os.environ[k] for k in ("OMP_NUM_THREADS", "CHORD_CPU_ISA", "CI") if k in os.environ}
    return ctx.doc
