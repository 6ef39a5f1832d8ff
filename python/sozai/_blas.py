"""OpenBLAS kernel choice on CPUs it does not know (see common/blas.h).

OpenBLAS 0.3.21 (Debian 12) falls back to its SSE3 "Prescott" kernels on
recent Xeons it does not recognise, and GEMM-heavy work (GNN training, GP
solves) then runs about 3x slower. Only OPENBLAS_CORETYPE, read when the
library loads, overrides that. ``import sozai`` therefore asks a short-lived
child interpreter which kernels OpenBLAS would pick and, if they are a
fallback on a CPU with AVX2/AVX-512, sets OPENBLAS_CORETYPE before LibTorch
loads. If OpenBLAS is already loaded (numpy or torch imported first), it is
too late: a warning names the fix instead.

Run as a script, it prints the OPENBLAS_CORETYPE this machine should use
(nothing when none is needed); the Makefile exports that for the tests.
"""

import ctypes
import ctypes.util
import os
import subprocess
import sys
import warnings

FALLBACKS = {"Prescott", "Core2", "Penryn", "Dunnington", "Nehalem", "Katmai", "Coppermine", "Northwood",
             "Banias", "Atom"}


def cpu_flags():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("flags"):
                    return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


def core_for(flags):
    """The kernels this CPU can run: SkylakeX (AVX-512 F/BW/DQ/VL), Haswell (AVX2 + FMA) or None."""
    if {"avx512f", "avx512bw", "avx512dq", "avx512vl"} <= flags:
        return "SkylakeX"
    if {"avx2", "fma"} <= flags:
        return "Haswell"
    return None


def loaded_core():
    """The kernels of the OpenBLAS loaded in (or now loaded into) this process; None if there is none."""
    for name in ("libopenblas.so.0", ctypes.util.find_library("openblas"), "libblas.so.3"):
        if not name:
            continue
        try:
            lib = ctypes.CDLL(name)
            get = lib.openblas_get_corename
        except (OSError, AttributeError):
            continue
        get.restype = ctypes.c_char_p
        return get().decode()
    return None


def suggestion():
    """OPENBLAS_CORETYPE for this machine when OpenBLAS would fall back to generic kernels, else None."""
    core = loaded_core()
    if core not in FALLBACKS:
        return None
    return core_for(cpu_flags())


def _openblas_loaded():
    try:
        with open("/proc/self/maps") as f:
            return "openblas" in f.read()
    except OSError:
        return False


def configure():
    """Called by ``import sozai`` before the C++ core (and with it LibTorch) loads."""
    if "OPENBLAS_CORETYPE" in os.environ or os.environ.get("SOZAI_BLAS_REEXEC") == "0":
        return
    if _openblas_loaded():
        core = loaded_core()
        fix = core_for(cpu_flags()) if core in FALLBACKS else None
        if fix:
            warnings.warn(f"OpenBLAS runs its generic '{core}' kernels on this CPU (about 3x slower); set "
                          f"OPENBLAS_CORETYPE={fix} before starting Python, or import sozai before numpy/torch",
                          RuntimeWarning, stacklevel=3)
        return
    try:
        out = subprocess.run([sys.executable, "-S", "-E", __file__], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return
    core = out.stdout.strip()
    if out.returncode == 0 and core in ("SkylakeX", "Haswell"):
        os.environ["OPENBLAS_CORETYPE"] = core


if __name__ == "__main__":
    s = suggestion()
    if s:
        print(s)
