"""Vocabulary shared by the PII detectors: words of ML metadata that look like names."""

from __future__ import annotations

# Words an English NER model tags as PERSON/LOCATION in ML metadata. Compared lowercased,
# against the whole entity and against each of its tokens.
ML_DENY_LIST: frozenset[str] = frozenset(
    """
    adam adamw adagrad adadelta adamax nadam rmsprop sgd lamb lion sophia
    optimizer optimiser scheduler model models loss layer layers encoder decoder tokenizer
    embedding embeddings trainer base large small tiny mini medium xl noise kernel prior
    bert roberta albert distilbert deberta electra xlnet bart t5 gpt llama mistral mixtral
    falcon gemma phi qwen claude gemini whisper clip vit deit swin resnet densenet
    efficientnet mobilenet inception xception alexnet vgg unet yolo lenet
    gaussian bernoulli poisson dirichlet laplace laplacian boltzmann markov bayes bayesian
    gauss euler newton hessian jacobian cauchy weibull gumbel student kullback leibler
    xavier glorot kaiming he lecun nesterov adam_w huber hinge tversky jaccard dice
    pearson spearman kendall cohen fisher shapiro wilcoxon mann whitney welch tukey
    bonferroni holm hamming manhattan euclidean chebyshev minkowski mahalanobis levenshtein
    hugging face huggingface pytorch torch tensorflow keras jax flax sklearn scikit xgboost
    lightgbm catboost pandas numpy scipy spark dask ray mlflow wandb zenml kubeflow airflow
    sagemaker vertex azure gcp aws kubernetes docker linux ubuntu debian python
    """.split()
)
