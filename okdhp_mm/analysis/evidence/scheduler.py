"""Run evidence trainings as separate processes, a few at a time, teachers before students.

Every run is a :class:`RunSpec`; a run whose ``WORK_DIR/result.json`` was written for the same
training (same resolved config, options, seed and training split: the fingerprint in
``spec.json`` beside it) is reused, so an interrupted ``tools/evidence.py`` continues where it
stopped, a second method that shares a run (the student trained alone, a teacher) does not
train it again, and a split asked for later is only evaluated.
"""
from __future__ import annotations

import hashlib
import json
import os
import os.path as osp
import subprocess
import sys
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Tuple

__all__ = ['RETAIN_FREED_MEMORY', 'RunSpec', 'run_all']

# Placeholder in RunSpec.options replaced by the final checkpoint of the run it names.
CHECKPOINT_OF = '{checkpoint:'
# glibc keeps freed memory in the process instead of returning it (and page-faulting it back)
# every step: about 1.6x faster CPU training (docs/benchmarks.md); the numbers are unchanged.
RETAIN_FREED_MEMORY = {'MALLOC_MMAP_THRESHOLD_': str(32 * 2 ** 20),
                       'MALLOC_TRIM_THRESHOLD_': str(2 ** 31 - 1)}


@dataclass(frozen=True)
class RunSpec:
    """One training run: ``config`` with ``options`` merged in, trained with ``seed``.

    ``options`` and ``init_from`` values may be ``'{checkpoint:KEY}'`` (the final checkpoint
    of run ``KEY``, which then runs first) or ``'{checkpoint:KEY@N}'`` (its epoch-``N``
    checkpoint). ``init_from`` (``{checkpoint, prefix}``) starts the run from a heatmap model's
    weights mapped onto an integral head. ``threads`` is the intra-op thread count of the run
    (1 by default, so that results do not depend on how many runs share the machine).
    """

    key: str
    config: str
    seed: int
    options: Mapping[str, Any] = field(default_factory=dict)
    init_from: Optional[Mapping[str, str]] = None
    threads: int = 1

    @property
    def needs(self) -> Tuple[str, ...]:
        values = list(self.options.values()) + list((self.init_from or {}).values())
        return tuple(_placeholder(v)[0] for v in values if _placeholder(v) is not None)


def _fingerprint(spec: RunSpec, train_split: Mapping[str, Any],
                 options: Mapping[str, Any]) -> str:
    """What determines the trained weights: the resolved config (a changed base counts too),
    the options (with the teachers' checkpoints resolved), the seed and the training split."""
    from mmengine.config import Config

    text = Config.fromfile(spec.config).pretty_text
    blob = json.dumps([text, dict(options), spec.seed, dict(train_split)], sort_keys=True,
                      default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def _placeholder(value: Any) -> Optional[Tuple[str, Optional[int]]]:
    """``'{checkpoint:KEY}'`` -> (KEY, None); ``'{checkpoint:KEY@N}'`` -> (KEY, N)."""
    if not (isinstance(value, str) and value.startswith(CHECKPOINT_OF) and value[-1] == '}'):
        return None
    key, _, epoch = value[len(CHECKPOINT_OF):-1].partition('@')
    return key, (int(epoch) if epoch else None)


def _resolve(options: Mapping[str, Any], results: Mapping[str, dict]) -> Dict[str, Any]:
    out = {}
    for k, v in options.items():
        ref = _placeholder(v)
        if ref is not None:
            final = results[ref[0]]['checkpoint']
            v = final if ref[1] is None else osp.join(osp.dirname(final), f'epoch_{ref[1]}.pth')
        out[k] = v
    return out


def _previous(work_dir: str, fingerprint: str) -> Optional[dict]:
    """The result of an earlier run of the same training, if its checkpoint is still there."""
    spec_path, result_path = osp.join(work_dir, 'spec.json'), osp.join(work_dir, 'result.json')
    if not (osp.isfile(spec_path) and osp.isfile(result_path)):
        return None
    with open(spec_path) as f:
        if json.load(f).get('fingerprint') != fingerprint:
            return None
    with open(result_path) as f:
        result = json.load(f)
    return result if osp.isfile(result.get('checkpoint', '')) else None


def run_all(specs: Sequence[RunSpec], train_split: Mapping[str, Any],
            eval_splits: Mapping[str, Any], work_root: str, jobs: int = 2,
            log: Callable[[str], None] = print,
            worker_env: Optional[Mapping[str, str]] = None) -> Dict[str, dict]:
    """Run every spec (dependencies first, ``jobs`` at a time) and evaluate it on every split
    of ``eval_splits``; return ``{key: result}``. A training done before (same fingerprint) is
    reused; only the splits it was not evaluated on yet are evaluated. ``worker_env`` is added
    to the workers' environment (e.g. :data:`RETAIN_FREED_MEMORY`).

    Raises:
        RuntimeError: a run failed (its log file is named) or a dependency is unknown.
    """
    by_key = {s.key: s for s in specs}
    for s in specs:
        missing = [k for k in s.needs if k not in by_key]
        if missing:
            raise RuntimeError(f'run {s.key!r} needs {missing}, which no run provides')
    results: Dict[str, dict] = {}
    pending: List[RunSpec] = list(specs)
    running: Dict[str, Tuple[subprocess.Popen, float, Any]] = {}
    start = time.time()

    def say(msg: str) -> None:
        log(f'[evidence {time.time() - start:6.0f}s] {msg}')

    while pending or running:
        for spec in [s for s in pending if all(k in results for k in s.needs)]:
            if len(running) >= jobs:
                break
            pending.remove(spec)
            work_dir = osp.join(work_root, spec.key)
            options = _resolve(spec.options, results)
            init_from = _resolve(spec.init_from, results) if spec.init_from else None
            fingerprint = _fingerprint(spec, train_split, dict(options, init_from=init_from))
            previous = _previous(work_dir, fingerprint)
            todo = {k: v for k, v in eval_splits.items()
                    if previous is None or k not in previous.get('metrics', {})}
            if previous is not None and not todo:
                results[spec.key] = previous
                say(f'reuse {spec.key}')
                continue
            os.makedirs(work_dir, exist_ok=True)
            run = dict(config=spec.config, work_dir=work_dir, seed=spec.seed,
                       threads=spec.threads, train=dict(train_split), splits=todo,
                       options=options, init_from=init_from,
                       evaluate_only=previous is not None)
            with open(osp.join(work_dir, 'spec.json'), 'w') as f:
                json.dump(dict(run, fingerprint=fingerprint), f, indent=1)
            log_file = open(osp.join(work_dir, 'worker.log'), 'a')
            env = dict(os.environ, OMP_NUM_THREADS=str(spec.threads),
                       MKL_NUM_THREADS=str(spec.threads), PYTHONUNBUFFERED='1',
                       **dict(worker_env or {}))
            proc = subprocess.Popen(
                [sys.executable, '-m', 'okdhp_mm.analysis.evidence.worker',
                 osp.join(work_dir, 'spec.json')], stdout=log_file, stderr=subprocess.STDOUT,
                env=env)
            running[spec.key] = (proc, time.time(), log_file)
            say(('evaluate ' if previous is not None else 'train ') + spec.key)
        ready = any(all(k in results for k in s.needs) for s in pending)
        if ready and not running:
            continue  # runs reused in this pass made others ready: start them now
        if not running and pending:
            raise RuntimeError(f'runs {[s.key for s in pending]} wait for runs that failed')
        time.sleep(1)
        for key, (proc, t0, log_file) in list(running.items()):
            if proc.poll() is None:
                continue
            log_file.close()
            del running[key]
            work_dir = osp.join(work_root, key)
            if proc.returncode != 0:
                for p, _, f in running.values():
                    p.kill()
                    f.close()
                raise RuntimeError(f'run {key!r} failed (exit {proc.returncode}); see '
                                   f'{osp.join(work_dir, "worker.log")}')
            with open(osp.join(work_dir, 'result.json')) as f:
                results[key] = json.load(f)
            say(f'done  {key} ({time.time() - t0:.0f} s)')
    return results
