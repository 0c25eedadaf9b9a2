"""`tracker train` and `tracker evaluate`'s report: a Markdown table of a model's scores."""

from __future__ import annotations

from tracker.judgement.metrics import Evaluation


def scores_table(evaluation: Evaluation, file: str | None = None) -> str:
    """Each theme's precision, recall and F1, the keyword-only baseline's F1 beside it, then
    macro-F1 and the candidate ROC-AUC; under a title saying how (and on which file) measured."""
    model, baseline = evaluation.scores, evaluation.baseline
    how = (f"cross-validated ({evaluation.folds} folds)" if evaluation.folds else
           f"scored by a model trained on {evaluation.trained_on} other examples")
    title = f"{file}, {how}" if file else how[0].upper() + how[1:]
    lines = [f"{title} ({model.examples} examples)", "",
             "| theme | support | precision | recall | F1 | keyword-only F1 |",
             "| --- | ---: | ---: | ---: | ---: | ---: |"]
    for slug, (p, r, f1, support) in model.per_theme.items():
        lines.append(f"| {slug} | {support} | {p:.2f} | {r:.2f} | {f1:.2f} | {baseline.per_theme[slug][2]:.2f} |")
    lines.append(f"| **macro** | | | | **{model.macro_f1:.3f}** | {baseline.macro_f1:.3f} |")

    def auc(value: float | None) -> str:
        return "n/a (needs accepted and rejected examples)" if value is None else f"{value:.3f}"

    lines += ["", f"Candidate ROC-AUC: {auc(model.roc_auc)} (keyword-only: {auc(baseline.roc_auc)})"]
    return "\n".join(lines)
