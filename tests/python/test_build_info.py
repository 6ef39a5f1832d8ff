import os
import subprocess
import sys

import pytest

import sozai


def test_build_info_keys():
    info = sozai.build_info()
    for key in ["version", "torch", "cuda", "torch_cuda", "cuda_available", "rdkit", "hdf5", "mpi", "blas_core"]:
        assert info[key]
    assert sozai.__version__ == info["version"]


def test_cli_version(sozai_cli):
    out = subprocess.run([str(sozai_cli), "--version"], capture_output=True, text=True, check=True).stdout
    assert out.startswith("sozai ")
    for key in ["torch", "cuda", "rdkit", "hdf5", "mpi"]:
        assert f"  {key}: " in out


def _env_without_coretype():
    env = dict(os.environ)
    env.pop("OPENBLAS_CORETYPE", None)
    env.pop("SOZAI_BLAS_REEXEC", None)
    return env


def _generic_fallback_here():
    """The OpenBLAS kernels a fresh process gets on this CPU, and whether they are a fallback sozai fixes."""
    blas = os.path.join(os.path.dirname(sozai.__file__), "_blas.py")
    code = f"import runpy; m = runpy.run_path({blas!r}); print(m['loaded_core'](), m['suggestion']())"
    out = subprocess.run([sys.executable, "-S", "-E", "-c", code], capture_output=True, text=True,
                         env=_env_without_coretype(), check=True)
    core, fix = out.stdout.split()
    return core, None if fix == "None" else fix


def test_blas_fallback_is_fixed_at_import_and_in_the_cli(sozai_cli):
    core, fix = _generic_fallback_here()
    if core == "None":
        pytest.skip("LibTorch does not use OpenBLAS here")
    code = "import sozai; print(sozai.build_info()['blas_core'])"
    env = dict(_env_without_coretype(), PYTHONPATH=os.path.dirname(os.path.dirname(sozai.__file__)))
    got = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    cli = subprocess.run([str(sozai_cli), "--version"], capture_output=True, text=True, env=env, check=True).stdout
    expected = fix or core  # a generic fallback is replaced; a recognised core is left alone
    assert got.stdout.strip() == expected
    assert f"  blas_core: {expected}" in cli
    # SOZAI_BLAS_REEXEC=0 keeps OpenBLAS's own choice
    off = subprocess.run([str(sozai_cli), "--version"], capture_output=True, text=True,
                         env=dict(env, SOZAI_BLAS_REEXEC="0"), check=True).stdout
    assert f"  blas_core: {core}" in off


def test_blas_fallback_after_numpy_is_a_warning_naming_the_fix():
    core, fix = _generic_fallback_here()
    if not fix:
        pytest.skip(f"OpenBLAS's own kernels ({core}) are not a generic fallback here")
    env = dict(_env_without_coretype(), PYTHONPATH=os.path.dirname(os.path.dirname(sozai.__file__)))
    out = subprocess.run([sys.executable, "-c", "import numpy; numpy.ones(2).dot(numpy.ones(2)); import sozai"],
                         capture_output=True, text=True, env=env, check=True)
    assert f"OPENBLAS_CORETYPE={fix}" in out.stderr
