"""Answer-quality evaluation: question set, metrics, runner, reports and the regression gate.

from assistant.evaluation import run_evaluation, load_summary
summary = run_evaluation(assistant, Path("eval/questions.jsonl"), Path("eval/results/latest"))
"""

from assistant.evaluation.baseline import REGRESSION_MARGIN, check_regression
from assistant.evaluation.dataset import DatasetError, EvalQuestion, load_questions
from assistant.evaluation.defaults import DEFAULT_BASELINE, DEFAULT_CORPUS, DEFAULT_DATASET, DEFAULT_OUT
from assistant.evaluation.metrics import HEADLINE_METRICS
from assistant.evaluation.runner import EvaluationError, load_rows, load_summary, run_evaluation

__all__ = [
    "DEFAULT_BASELINE",
    "DEFAULT_CORPUS",
    "DEFAULT_DATASET",
    "DEFAULT_OUT",
    "HEADLINE_METRICS",
    "REGRESSION_MARGIN",
    "DatasetError",
    "EvalQuestion",
    "EvaluationError",
    "check_regression",
    "load_questions",
    "load_rows",
    "load_summary",
    "run_evaluation",
]
