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
    process processes forest random classifier regressor regression tree trees boosting boosted
    network networks net transformer transformers gradient descent stochastic linear logistic
    ridge lasso elastic support vector machine naive nearest neighbor neighbors neighbour means
    decision learning deep neural rate schedule cosine warmup epoch epochs batch dropout softmax
    relu gelu sigmoid tanh attention pooling convolution conv lstm gru rnn cnn mlp gan vae
    data dataset load train training test testing eval evaluation validation inference predict
    mnist cifar imagenet coco iris titanic wine boston housing california diabetes adult squad
    glue superglue wikitext openwebtext pile laion kaggle cityscapes voc celeba fashion
    us usa eu uk east west north south central northeast northwest southeast southwest asia
    europe pacific america americas apac emea africa middle region regions zone
    ada adaboost boost max min scaler seldon core serve triton tekton argo kserve bento travis jenkins
    reranker embed embeddings instruct sonnet haiku opus jina cohere nomic
    monte carlo jensen shannon kanade jacobi bellman warshall nelder mead levenberg marquardt
    kaplan meier cox savitzky golay winters kendall kappa matthews davies bouldin calinski
    harabasz dijkstra kruskal hopcroft karp fulkerson edmonds viterbi baum metropolis hastings
    gibbs langevin ornstein uhlenbeck scholes kalman wiener fourier hilbert schmidt cholesky
    householder lanczos arnoldi krylov runge kutta bashforth crank nicolson elkan hartigan jaro
    winkler damerau waterman needleman wunsch huffman lempel ziv tau
    argilla bentoml comet databricks deepchecks discord evidently facets feast github gitlab kaniko
    label studio langchain lightning llamaindex neptune prophet openai pigeon pillow polars prodigy
    pycaret skypilot slack tensorboard vllm whylogs optuna katib weaviate qdrant pinecone chroma chromadb
    milvus langfuse litellm ollama anthropic fastapi streamlit gradio prefect dagster snowflake bigquery
    redshift postgres postgresql mysql redis kafka minio grafana prometheus datadog sentry hyperopt
    ragas deepeval langsmith langgraph crewai autogen haystack unstructured llamacpp gguf onnx tensorrt
    """.split()
)
