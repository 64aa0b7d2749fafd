"""fitcl.gainloss gives the numbers the fitcl command prints, for paths,
DataFrames and arrays.  The CLI's --json writes a number with 15 significant
digits when they read back within one unit in the last place (cJSON's
rule), so values compare to that: equal to the last bit the CLI prints."""
from __future__ import annotations

import json
import math
import os
import subprocess

import numpy as np
import pytest

import fitcl
from fitcl import gainloss
from conftest import EXAMPLES

TREE = EXAMPLES / "pangenome50.nwk"
MATRIX = EXAMPLES / "pangenome50.Rtab"
FAMILIES = EXAMPLES / "retained.txt"


def run_cli(cli: str, *args: object) -> dict:
    env = dict(os.environ, FITCL_DEVICE="cpu")
    out = subprocess.run([cli, *map(str, args)], capture_output=True, text=True, env=env,
                         check=True)
    return json.loads(out.stdout)


EPS = np.finfo(float).eps


def same(cli_value: object, value: object) -> bool:
    """value is what the CLI printed as cli_value (JSON null: not finite)."""
    if isinstance(cli_value, dict):
        return isinstance(value, dict) and cli_value.keys() == value.keys() and all(
            same(cli_value[k], value[k]) for k in cli_value)
    if isinstance(cli_value, list):
        return len(cli_value) == len(value) and all(map(same, cli_value, value))
    if cli_value is None:
        return not math.isfinite(value)
    if isinstance(cli_value, (bool, str)):
        return cli_value == value
    a, b = float(cli_value), float(value)
    return a == b or abs(a - b) <= max(abs(a), abs(b)) * EPS


def test_loglik(cli: str) -> None:
    c = run_cli(cli, "loglik", "--tree", TREE, "--matrix", MATRIX, "--gain", 0.5, "--loss", 0.8,
                "--gamma-cats", 4, "--alpha", 1.5, "--grad", "--json")
    r = gainloss.loglik(TREE, MATRIX, 0.5, 0.8, gamma_cats=4, alpha=1.5, gradient=True)
    assert same(c["loglik"], r.loglik)
    assert same(c["gradient"], r.gradient)
    assert (r.families, r.patterns) == (c["families"], c["patterns"])


def test_fit(cli: str) -> None:
    c = run_cli(cli, "fit", "--tree", TREE, "--matrix", MATRIX, "--gamma-cats", 3, "--json")
    r = gainloss.fit(TREE, MATRIX, gamma_cats=3)
    assert same(c["loglik"], r.loglik) and same(c["aic"], r.aic)
    assert same(c["params"], r.params)
    assert same(c["stderr"], {"gain": r.se_gain, "loss": r.se_loss, "alpha": r.se_alpha})
    assert (r.iterations, r.evaluations, r.converged, r.status) == (
        c["iterations"], c["evaluations"], c["converged"], c["status"])
    assert (r.families, r.patterns, r.taxa) == (c["families"], c["patterns"], c["taxa"])


def test_retention_test(cli: str) -> None:
    c = run_cli(cli, "retention-test", "--tree", TREE, "--matrix", MATRIX, "--families", FAMILIES,
                "--bootstrap", 20, "--seed", 7, "--ci", "profile", "--json")
    r = gainloss.retention_test(TREE, MATRIX, families_file=FAMILIES, bootstrap=20, seed=7,
                                ci="profile")
    for fit, key in ((r.null, "null"), (r.alt, "alt")):
        assert same(c[key]["loglik"], fit.loglik) and same(c[key]["aic"], fit.aic)
        assert same(c[key]["params"], fit.params)
        assert (fit.iterations, fit.evaluations, fit.status) == (
            c[key]["iterations"], c[key]["evaluations"], c[key]["status"])
    assert same(c["alt"]["stderr"]["effect"], r.alt.se_effect)
    assert same(c["effect_ci"], {"low": r.ci_low, "high": r.ci_high, "method": r.ci_method})
    assert same([c["lrt"], c["df"], c["p_value"]], [r.lrt, r.df, r.p_value])
    assert r.bootstrap_replicates == c["bootstrap"]["replicates"]
    assert same(c["bootstrap"]["p_value"], r.bootstrap_p_value)
    assert (r.families, r.selected) == (c["families"], c["selected"])
    # The same selection given as names and as a mask.
    names = [ln.strip() for ln in FAMILIES.read_text().splitlines()
             if ln.strip() and not ln.startswith("#")]
    assert gainloss.retention_test(TREE, MATRIX, names).lrt == r.lrt
    assert sorted(r.selected_families) == sorted(names)


def test_simulate(cli: str, tmp_path) -> None:
    out = tmp_path / "sim.Rtab"
    subprocess.run([cli, "simulate", "--tree", str(TREE), "--gain", "0.5", "--loss", "0.8",
                    "--families", "300", "--retained-fraction", "0.2", "--effect", "0.3",
                    "--gamma-cats", "4", "--alpha", "0.7", "--condition", "--seed", "42", "-o",
                    str(out), "--truth", str(tmp_path / "truth.txt")], check=True)
    r = gainloss.simulate(TREE, 0.5, 0.8, 300, seed=42, retained_fraction=0.2, effect=0.3,
                          gamma_cats=4, alpha=0.7, condition=True)
    mine = tmp_path / "mine.Rtab"
    r.matrix.write_rtab(mine)
    assert mine.read_bytes() == out.read_bytes()
    truth = [ln for ln in (tmp_path / "truth.txt").read_text().splitlines()
             if not ln.startswith("#")]
    assert r.retained == truth
    cli_matrix = gainloss.Matrix.read(out)
    np.testing.assert_array_equal(r.matrix.values, cli_matrix.values)


@pytest.mark.parametrize("rates", [True, False])
def test_ancestral(cli: str, rates: bool) -> None:
    extra = ["--gain", 0.5, "--loss", 0.8] if rates else ["--gamma-cats", 2]
    c = run_cli(cli, "ancestral", "--tree", TREE, "--matrix", MATRIX, *extra, "--json")
    r = gainloss.ancestral(TREE, MATRIX, **({"gain": 0.5, "loss": 0.8} if rates
                                             else {"gamma_cats": 2}))
    assert same([c["gain"], c["loss"]], [r.gain, r.loss])
    if not rates:
        assert same(c["alpha"], r.alpha)
    assert r.internal_nodes == c["nodes"]
    nodes = r.nodes_frame
    for fam in c["families"]:
        assert same(fam["p_present"], list(nodes.loc[fam["family"]]))
    br = r.branches_frame
    assert len(br) == len(c["branches"])
    for row, b in zip(br.itertuples(index=False), c["branches"]):
        assert (row.node, row.parent) == (b["node"], b["parent"])
        assert same([b["length"], b["expected_gains"], b["expected_losses"]],
                    [row.length, row.expected_gains, row.expected_losses])


def test_frame_and_array_inputs_match_the_file() -> None:
    pd = pytest.importorskip("pandas")
    frame = pd.read_csv(MATRIX, sep="\t", index_col=0)
    ref = gainloss.fit(TREE, MATRIX)
    assert gainloss.fit(TREE, frame).loglik == ref.loglik
    assert gainloss.fit(TREE, frame.T, taxa_in_rows=True).loglik == ref.loglik
    values = frame.to_numpy()
    assert gainloss.fit(TREE, values, taxa=list(frame.columns),
                        families=list(frame.index)).loglik == ref.loglik
    assert gainloss.fit(TREE.read_text(), gainloss.Matrix.from_frame(frame)).loglik == ref.loglik
    # Missing cells: NaN in a frame is FITCL_PA_MISSING.
    holes = frame.astype(float)
    holes.iloc[3, 5] = np.nan
    m = gainloss.Matrix.from_frame(holes)
    assert m.values[3, 5] == gainloss.MISSING
    assert math.isnan(m.to_frame().iloc[3, 5])
    assert gainloss.fit(TREE, holes).loglik != ref.loglik


def test_npy_matrix_with_names_files(tmp_path) -> None:
    """A uint8 .npy (families x taxa, 255 missing) with its names files gives
    the same matrix and log-likelihood as the Rtab it was written from; a
    .npy without its taxon names is refused with the file named."""
    pd = pytest.importorskip("pandas")
    frame = pd.read_csv(MATRIX, sep="\t", index_col=0)
    cells = frame.to_numpy().astype(np.uint8)
    cells[3, 5] = 255
    np.save(tmp_path / "m.npy", cells)
    (tmp_path / "taxa.txt").write_text("".join(f"{t}\n" for t in frame.columns))
    (tmp_path / "families.txt").write_text("".join(f"{f}\n" for f in frame.index))
    m = gainloss.Matrix.read(tmp_path / "m.npy", taxa_file=tmp_path / "taxa.txt",
                             family_names_file=tmp_path / "families.txt")
    assert m.taxa == list(frame.columns) and m.families == list(frame.index)
    assert m.values[3, 5] == gainloss.MISSING
    holes = frame.astype(float)
    holes.iloc[3, 5] = np.nan
    assert gainloss.fit(TREE, m).loglik == gainloss.fit(TREE, holes).loglik
    with pytest.raises(fitcl.ArgumentError, match="m.npy"):
        gainloss.Matrix.read(tmp_path / "m.npy")


def test_tree_object() -> None:
    t = gainloss.Tree(TREE)
    assert t.ntips == 50 and t.nnodes == 99
    assert t.parents[-1] == -1 and np.all(t.parents[:-1] > np.arange(98))
    assert gainloss.Tree(t.newick).newick == t.newick
    assert t.depths().max() > 0


def test_theta_profile_peaks_at_the_estimate() -> None:
    r = gainloss.retention_test(TREE, MATRIX, families_file=FAMILIES, ci="profile")
    prof = r.profile(points=21)
    assert prof.loglik.max() <= r.alt.loglik + 1e-6
    assert prof.loglik.max() == pytest.approx(r.alt.loglik, abs=0.05)
    # Where the profile crosses the 1.92 drop is the profile interval.
    rel = prof.loglik - r.alt.loglik
    inside = prof.theta[rel >= -1.9207294103470332]
    assert inside.min() >= r.ci_low * 0.97 and inside.max() <= r.ci_high * 1.03
    # At theta = 1 the profile is the null's log-likelihood.
    one = gainloss.theta_profile(TREE, MATRIX, families_file=FAMILIES, theta=[1.0])
    assert one.loglik[0] == pytest.approx(r.null.loglik, abs=1e-4)
