import ast

import pytest

from cnnkit.paths import KIT_ROOT
from cnnkit.phases import PHASES
from cnnkit.release import BEGIN, ReleaseError, diff_release, release_files, stub_source, write_release

SOLUTIONS, RELEASE = KIT_ROOT / "solutions", KIT_ROOT / "assignments"


def test_committed_release_is_in_sync_with_the_generator():
    drift = diff_release(SOLUTIONS, RELEASE)
    assert drift == [], f"assignments/ is out of date, run `cnnkit release`: {drift}"


def test_release_holds_no_solution_code():
    for relative, content in release_files(SOLUTIONS).items():
        assert b"BEGIN SOLUTION" not in content and b"END SOLUTION" not in content, relative


def test_every_task_becomes_a_stub_naming_phase_function_and_file():
    files = release_files(SOLUTIONS)
    for p in PHASES:
        for task in p.tasks:
            file, qualname = task.split("::")
            source = files[f"scratchcnn/{file}"].decode()
            assert f"raise NotImplementedError({p.stub_message(task)!r})" in source, task
            ast.parse(source)  # every stub module still compiles


def test_stub_keeps_signature_docstring_and_argument_checks():
    source, tasks = stub_source(
        'def im2col(x):\n    """Doc."""\n    check(x)\n    ### BEGIN SOLUTION\n    return x\n'
        '    ### END SOLUTION\n', "conv.py")
    assert tasks == ["conv.py::im2col"]
    assert source == ('def im2col(x):\n    """Doc."""\n    check(x)\n    raise NotImplementedError('
                      "'Phase 2 (im2col and fast convolution): implement im2col in "
                      "scratchcnn/conv.py')\n")


@pytest.mark.parametrize("source, message", [
    (f"def nope():\n    {BEGIN}\n    return 1\n    ### END SOLUTION\n", "not a task of any phase"),
    (f"def im2col():\n    {BEGIN}\n    return 1\n", "never closed"),
    (f"{BEGIN}\n### END SOLUTION\n", "outside a function"),
    ("def im2col():\n    return 1\n    ### END SOLUTION\n", "without"),
])
def test_marker_mistakes_are_clear_errors(source, message):
    with pytest.raises(ReleaseError, match=message):
        stub_source(source, "conv.py")


def test_a_task_without_its_region_is_an_error(tmp_path):
    (tmp_path / "scratchcnn").mkdir()
    (tmp_path / "scratchcnn" / "conv.py").write_text(
        f"def conv2d_forward_naive():\n    {BEGIN}\n    return 1\n    ### END SOLUTION\n")
    with pytest.raises(ReleaseError, match=r"missing \[.*'pool.py::max_pool_backward'"):
        release_files(tmp_path)


def test_write_release_replaces_the_whole_folder(tmp_path):
    dest = tmp_path / "release"
    (dest / "scratchcnn").mkdir(parents=True)
    (dest / "stale.txt").write_text("from an older release")
    write_release(SOLUTIONS, dest)
    assert diff_release(SOLUTIONS, dest) == []
    assert not (dest / "stale.txt").exists()
    assert [p.name for p in tmp_path.iterdir()] == ["release"]  # no staging folder left behind
