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
    aya dolly hermes marian marianmt luna zephyr vicuna alpaca florence orca granite mamba jamba nemotron
    olmo yi jais grok command stella nova titan sage
    gini glorot powell hann bartlett benjamini hochberg yeo johnson box bfgs lbfgs seidel nelder
    backfill backfilling
    """.split()
)
# The cities and regions cloud providers name their regions after (AWS, GCP, Azure): as a name
# of something they are ML vocabulary ("Frankfurt", "São Paulo" as a region, a tag, a dataset's
# origin); as a place after a personal locative ("lives in Frankfurt") ner.py still reads them.
CLOUD_REGION_WORDS: frozenset[str] = frozenset(
    """
    frankfurt são sao paulo dublin ireland paris stockholm mumbai hyderabad tokyo osaka seoul sydney melbourne
    singapore jakarta montréal montreal zürich zurich milan madrid amsterdam london virginia ohio oregon
    california bahrain cape town hong kong tel aviv doha dammam jeddah calgary toronto querétaro santiago
    warsaw turin berlin delhi johannesburg oslo helsinki finland netherlands belgium iowa carolina
    nevada utah texas arizona dallas columbus sweden norway germany switzerland poland italy spain france
    india japan korea australia canada brazil chile mexico israel qatar uae emirates indonesia malaysia
    """.split()
)
ML_DENY_LIST = ML_DENY_LIST | CLOUD_REGION_WORDS

# Methods, tests and models named after two people, written as two words ("Kolmogorov Smirnov
# test", "Viola Jones detector"): each word alone may be someone's name ("Jones"), so the pair
# is the vocabulary. Compared lowercased, hyphens as spaces.
EPONYM_PAIRS: frozenset[tuple[str, str]] = frozenset(
    tuple(pair.split("-"))  # type: ignore[misc]
    for pair in """
    kolmogorov-smirnov anderson-darling shapiro-wilk durbin-watson breusch-pagan ljung-box dickey-fuller
    kruskal-wallis mann-whitney jarque-bera cramer-rao cramér-rao rao-blackwell neyman-pearson
    benjamini-hochberg holm-bonferroni box-cox yeo-johnson box-jenkins holt-winters hodrick-prescott
    christiano-fitzgerald baxter-king lomb-scargle hilbert-huang savitzky-golay nelder-mead
    levenberg-marquardt gauss-newton gauss-seidel runge-kutta adams-bashforth crank-nicolson
    viola-jones shi-tomasi lucas-kanade horn-schunck harris-stephens bradley-terry plackett-luce
    kaplan-meier nelson-aalen cox-snell davies-bouldin calinski-harabasz fowlkes-mallows
    jaro-winkler damerau-levenshtein needleman-wunsch smith-waterman lempel-ziv reed-solomon
    floyd-warshall bellman-ford ford-fulkerson edmonds-karp hopcroft-karp metropolis-hastings
    ornstein-uhlenbeck black-scholes heath-jarrow cox-ingersoll fama-french gram-schmidt
    sherman-morrison cauchy-schwarz kullback-leibler jensen-shannon wasserstein-kantorovich
    robbins-monro polyak-ruppert nesterov-momentum xavier-glorot he-kaiming hoeffding-azuma
    """.split()
)
ML_DENY_LIST = ML_DENY_LIST | frozenset(
    """setosa versicolor virginica hubert radam lookahead deepset gbert phind codellama ecapa tdnn silero
    vad statsforecast ets""".split()
)
