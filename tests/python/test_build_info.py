import subprocess

import sozai


def test_build_info_keys():
    info = sozai.build_info()
    for key in ["version", "torch", "cuda", "torch_cuda", "cuda_available", "rdkit", "hdf5", "mpi"]:
        assert info[key]
    assert sozai.__version__ == info["version"]


def test_cli_version(sozai_cli):
    out = subprocess.run([str(sozai_cli), "--version"], capture_output=True, text=True, check=True).stdout
    assert out.startswith("sozai ")
    for key in ["torch", "cuda", "rdkit", "hdf5", "mpi"]:
        assert f"  {key}: " in out
