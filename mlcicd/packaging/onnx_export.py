"""Export the whole served model to one ONNX graph: preprocessing, then the network or the trees.

The preprocessing graph is written from the fitted scikit-learn objects themselves (medians,
means, scales, declared categories) because skl2onnx cannot convert the project's string
normalisation nor impute text with a float marker; the network goes through `torch.onnx.export`
and the trees through skl2onnx. Anything this module does not know how to export raises
`ExportError` naming it, which the parity gate reports instead of a traceback. What the file
promises at its inputs and output is written down in `inference.onnx_classifier`.
"""

from __future__ import annotations

import copy
import logging
import warnings
from typing import Any

import numpy as np
import onnx
from onnx import TensorProto, compose, helper, numpy_helper
from sklearn.compose import ColumnTransformer
from sklearn.dummy import DummyClassifier
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, StandardScaler

from inference.onnx_classifier import PROBABILITY_OUTPUT, OnnxInput, model_metadata
from inference.packaged_model import PackagedClassifier
from inference.torch_network import TorchTabularClassifier

FEATURES = "features"
IR_VERSION = 10  # what onnxruntime 1.20 and later read
UNKNOWN_CATEGORY = "__mlcicd_unknown_category__"  # a marker no declared category equals


class ExportError(Exception):
    """The model holds a part this exporter cannot write as ONNX; the message names it."""


def export_onnx(model: PackagedClassifier, opset: int = 21) -> bytes:
    """The packaged model as one serialised ONNX model, checked by onnx's own checker."""
    preprocessing, inputs, width = _preprocessing_graph(model, opset)
    classifier = _classifier_graph(model.classifier, width, opset)
    merged = compose.merge_models(
        preprocessing, classifier, io_map=[(FEATURES, FEATURES)], prefix2="classifier/"
    )
    renamed = _final_output(merged, f"classifier/{PROBABILITY_OUTPUT}")
    missing = _missing_category(model.preprocessor)
    meta = model_metadata(
        inputs, model.positive_class, model.negative_class, model.threshold, missing
    )
    helper.set_model_props(renamed, meta)
    renamed.producer_name = "ml-cicd package_model"
    onnx.checker.check_model(renamed, full_check=True)
    return renamed.SerializeToString()


def _parts(preprocessor: Any) -> tuple[ColumnTransformer, Pipeline, Pipeline, list[str], list[str]]:
    """The fitted pieces of `mlcicd.data.preprocessing.build_preprocessor`, or ExportError."""
    steps = getattr(preprocessor, "named_steps", {})
    columns = steps.get("columns") if isinstance(preprocessor, Pipeline) else None
    if not isinstance(columns, ColumnTransformer) or not hasattr(columns, "transformers_"):
        raise ExportError(
            f"preprocessor {type(preprocessor).__name__} is not the fitted pipeline of "
            "build_preprocessor (normalise_strings + columns); no ONNX converter for it"
        )
    normalise = steps.get("normalise_strings")
    if normalise is not None and not isinstance(normalise, FunctionTransformer):
        raise ExportError(f"unexpected preprocessing step {type(normalise).__name__}")
    fitted = {name: (part, list(cols)) for name, part, cols in columns.transformers_}
    unknown = sorted(set(fitted) - {"numeric", "categorical", "remainder"})
    if unknown:
        raise ExportError(f"no ONNX converter for column transformer(s) {unknown}")
    remainder = fitted.get("remainder")
    if remainder is not None and remainder[0] != "drop" and remainder[1]:
        raise ExportError("the column transformer passes columns through; not exportable")
    numeric, numeric_cols = fitted.get("numeric", (None, []))
    categorical, categorical_cols = fitted.get("categorical", (None, []))
    return columns, numeric, categorical, numeric_cols, categorical_cols


def _missing_category(preprocessor: Any) -> str:
    """What the runtime feeds for a missing text value, so it encodes as scikit-learn does.

    The imputer fills None with its marker; one fitted before it looked for None (it looked
    for NaN) passed None on as an unknown category, all zeros: a marker no category equals.
    """
    _, _, categorical, _, columns = _parts(preprocessor)
    if not columns:
        return ""
    imputer = categorical.named_steps["impute"]
    if imputer.missing_values is None:
        return str(imputer.fill_value)
    return UNKNOWN_CATEGORY


def _preprocessing_graph(
    model: PackagedClassifier, opset: int
) -> tuple[onnx.ModelProto, list[OnnxInput], int]:
    """Impute and scale the numbers, one-hot the categories, concatenate as float32."""
    columns, numeric, categorical, numeric_cols, categorical_cols = _parts(model.preprocessor)
    unknown = sorted({*numeric_cols, *categorical_cols} - set(model.feature_names))
    if unknown:
        raise ExportError(f"the preprocessor reads column(s) {unknown} the model does not name")
    nodes: list[onnx.NodeProto] = []
    initializers: list[onnx.TensorProto] = []
    graph_inputs: list[onnx.ValueInfoProto] = []
    inputs: list[OnnxInput] = []
    blocks: list[str] = []
    width = 0
    if numeric_cols:
        imputer, scaler = _numeric_steps(numeric)
        for name in numeric_cols:
            graph_inputs.append(helper.make_tensor_value_info(name, TensorProto.DOUBLE, ["N", 1]))
            inputs.append(OnnxInput(name, "number"))
        initializers += [
            numpy_helper.from_array(np.asarray(imputer.statistics_, np.float64), "num/median"),
            numpy_helper.from_array(_scaler_array(scaler, "mean_", 0.0), "num/mean"),
            numpy_helper.from_array(_scaler_array(scaler, "scale_", 1.0), "num/scale"),
        ]
        nodes += [
            helper.make_node("Concat", list(numeric_cols), ["num/raw"], axis=1),
            helper.make_node("IsNaN", ["num/raw"], ["num/is_nan"]),
            helper.make_node("Where", ["num/is_nan", "num/median", "num/raw"], ["num/imputed"]),
            helper.make_node("Sub", ["num/imputed", "num/mean"], ["num/centred"]),
            helper.make_node("Div", ["num/centred", "num/scale"], ["num/scaled"]),
            helper.make_node("Cast", ["num/scaled"], ["num/out"], to=TensorProto.FLOAT),
        ]
        blocks.append("num/out")
        width += len(numeric_cols)
    if categorical_cols:
        encoder = _one_hot(categorical)
        for index, name in enumerate(categorical_cols):
            graph_inputs.append(helper.make_tensor_value_info(name, TensorProto.STRING, ["N", 1]))
            inputs.append(OnnxInput(name, "string"))
            values = np.asarray([str(v) for v in encoder.categories_[index]], dtype=object)
            initializers.append(numpy_helper.from_array(values, f"cat/{index}/categories"))
            nodes += [
                helper.make_node("Equal", [name, f"cat/{index}/categories"], [f"cat/{index}/eq"]),
                helper.make_node(
                    "Cast", [f"cat/{index}/eq"], [f"cat/{index}/out"], to=TensorProto.FLOAT
                ),
            ]
            blocks.append(f"cat/{index}/out")
            width += len(values)
    if not blocks:
        raise ExportError("the preprocessor has no input columns")
    nodes.append(helper.make_node("Concat", blocks, [FEATURES], axis=1))
    output = helper.make_tensor_value_info(FEATURES, TensorProto.FLOAT, ["N", width])
    # inputs in the model's feature order, so the file reads like the signature
    order = {name: index for index, name in enumerate(model.feature_names)}
    graph_inputs.sort(key=lambda value: order[value.name])
    inputs.sort(key=lambda spec: order[spec.name])
    graph = helper.make_graph(nodes, "preprocessing", graph_inputs, [output], initializers)
    if width != len(columns.get_feature_names_out()):
        raise ExportError(
            f"the ONNX preprocessing makes {width} features, scikit-learn makes "
            f"{len(columns.get_feature_names_out())}"
        )
    return _model(graph, opset), inputs, width


def _numeric_steps(numeric: Any) -> tuple[SimpleImputer, StandardScaler]:
    steps = getattr(numeric, "named_steps", {})
    imputer, scaler = steps.get("impute"), steps.get("scale")
    if (
        not isinstance(imputer, SimpleImputer)
        or not isinstance(scaler, StandardScaler)
        or len(steps) != 2
    ):
        raise ExportError("numeric columns: expected exactly impute (SimpleImputer) + scale")
    if imputer.add_indicator:
        raise ExportError("numeric imputer with add_indicator is not exportable")
    return imputer, scaler


def _scaler_array(scaler: StandardScaler, attribute: str, default: float) -> np.ndarray:
    value = getattr(scaler, attribute, None)
    if value is None:  # with_mean / with_std switched off
        return np.full(int(scaler.n_features_in_), default, dtype=np.float64)
    return np.asarray(value, dtype=np.float64)


def _one_hot(categorical: Any) -> OneHotEncoder:
    steps = getattr(categorical, "named_steps", {})
    imputer, encoder = steps.get("impute"), steps.get("one_hot")
    if not isinstance(imputer, SimpleImputer) or imputer.strategy != "constant":
        raise ExportError("categorical columns: expected a constant SimpleImputer")
    if not isinstance(encoder, OneHotEncoder) or len(steps) != 2:
        raise ExportError("categorical columns: expected exactly impute + one_hot")
    if encoder.handle_unknown != "ignore" or encoder.drop is not None:
        raise ExportError("one-hot encoding must use handle_unknown='ignore' and no drop")
    if getattr(encoder, "_infrequent_enabled", False):
        raise ExportError("one-hot encoding with infrequent categories is not exportable")
    return encoder


def _classifier_graph(classifier: Any, width: int, opset: int) -> onnx.ModelProto:
    """`features` (float32, rows x width) in, `probability` (float64, rows) out."""
    if isinstance(classifier, TorchTabularClassifier):
        return _torch_graph(classifier, width, opset)
    if isinstance(classifier, HistGradientBoostingClassifier):
        return _trees_graph(classifier, width, opset)
    if isinstance(classifier, DummyClassifier) and classifier.strategy == "prior":
        return _prior_graph(classifier, width, opset)
    raise ExportError(f"no ONNX converter for classifier {type(classifier).__name__}")


def _torch_graph(classifier: TorchTabularClassifier, width: int, opset: int) -> onnx.ModelProto:
    import torch

    class Probability(torch.nn.Module):
        def __init__(self, network: torch.nn.Module) -> None:
            super().__init__()
            self.network = network

        def forward(self, features: torch.Tensor) -> torch.Tensor:
            return torch.sigmoid(self.network(features)).double()

    example = torch.zeros((2, width), dtype=torch.float32)
    # the exporter warns, once per process, about torchvision operators this model never uses
    logging.getLogger("torch.onnx._internal.exporter._registration").setLevel(logging.ERROR)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        program = torch.onnx.export(
            Probability(classifier.network()).eval(),
            (example,),
            input_names=[FEATURES],
            output_names=[PROBABILITY_OUTPUT],
            dynamic_shapes=({0: torch.export.Dim("rows")},),
            opset_version=opset,
            dynamo=True,
            verbose=False,
        )
    if program is None:
        raise ExportError("torch.onnx.export returned no program")
    return _model(program.model_proto.graph, opset)


def _trees_graph(
    classifier: HistGradientBoostingClassifier, width: int, opset: int
) -> onnx.ModelProto:
    from skl2onnx import convert_sklearn
    from skl2onnx.common.data_types import FloatTensorType

    if list(classifier.classes_) != [0, 1]:
        raise ExportError(f"expected classes [0, 1], the model has {list(classifier.classes_)}")
    exact = _float32_thresholds(classifier)
    trees = convert_sklearn(
        exact,
        initial_types=[(FEATURES, FloatTensorType([None, width]))],
        target_opset={"": opset, "ai.onnx.ml": 3},
        options={id(exact): {"zipmap": False}},
    )
    graph = trees.graph
    probabilities = next(o.name for o in graph.output if o.name != "label")
    # a scalar index drops the class axis: (rows, 2) -> (rows,)
    graph.initializer.append(numpy_helper.from_array(np.asarray(1, np.int64), "positive"))
    graph.node.extend(
        [
            helper.make_node("Gather", [probabilities, "positive"], ["positive_p"], axis=1),
            helper.make_node("Cast", ["positive_p"], [PROBABILITY_OUTPUT], to=TensorProto.DOUBLE),
        ]
    )
    del graph.output[:]
    graph.output.append(
        helper.make_tensor_value_info(PROBABILITY_OUTPUT, TensorProto.DOUBLE, ["N"])
    )
    return _model(graph, opset, ml=True)


def _float32_thresholds(
    classifier: HistGradientBoostingClassifier,
) -> HistGradientBoostingClassifier:
    """A copy whose split thresholds are float32 values deciding every float32 input alike.

    ONNX tree operators compare in float32; rounding a float64 threshold to the nearest
    float32 can move it past a feature value (seen: 0.85275266 became 0.8527527, and the row
    took the other branch). For float32 inputs, `x <= t` is the same as `x <= t32` where t32 is
    the largest float32 not above t, which is exact in float32 (scikit-learn's private
    `_predictors` hold the nodes; skl2onnx reads the same).
    """
    exact = copy.deepcopy(classifier)
    for iteration in exact._predictors:
        for predictor in iteration:
            thresholds = predictor.nodes["num_threshold"]
            rounded = thresholds.astype(np.float32)
            above = rounded.astype(np.float64) > thresholds
            rounded[above] = np.nextafter(rounded[above], np.float32(-np.inf))
            predictor.nodes["num_threshold"] = rounded.astype(np.float64)
    return exact


def _prior_graph(classifier: DummyClassifier, width: int, opset: int) -> onnx.ModelProto:
    prior = float(np.asarray(classifier.class_prior_)[list(classifier.classes_).index(1)])
    value = helper.make_tensor("prior", TensorProto.DOUBLE, [1], [prior])
    nodes = [
        helper.make_node("Shape", [FEATURES], ["rows"], start=0, end=1),
        helper.make_node("ConstantOfShape", ["rows"], [PROBABILITY_OUTPUT], value=value),
    ]
    graph = helper.make_graph(
        nodes,
        "prior",
        [helper.make_tensor_value_info(FEATURES, TensorProto.FLOAT, ["N", width])],
        [_probability_output()],
    )
    return _model(graph, opset)


def _probability_output() -> onnx.ValueInfoProto:
    return helper.make_tensor_value_info(PROBABILITY_OUTPUT, TensorProto.DOUBLE, ["N"])


def _model(graph: onnx.GraphProto, opset: int, ml: bool = False) -> onnx.ModelProto:
    imports = [helper.make_opsetid("", opset), helper.make_opsetid("ai.onnx.ml", 3)]
    model = helper.make_model(graph, opset_imports=imports if ml else imports[:1])
    model.ir_version = IR_VERSION
    return model


def _final_output(model: onnx.ModelProto, current: str) -> onnx.ModelProto:
    """Name the merged graph's single output `probability`, as the runtime expects."""
    graph = model.graph
    outputs = [o for o in graph.output if o.name == current]
    if len(outputs) != 1:
        raise ExportError(f"the merged graph has no output {current}")
    graph.node.append(helper.make_node("Identity", [current], [PROBABILITY_OUTPUT]))
    del graph.output[:]
    graph.output.append(
        helper.make_tensor_value_info(PROBABILITY_OUTPUT, TensorProto.DOUBLE, ["N"])
    )
    return model
