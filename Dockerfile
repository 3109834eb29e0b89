# The tutelage worker image (used by docker-compose.yml).
FROM python:3.11-slim
ENV PYTHONUNBUFFERED=1 LITELLM_LOCAL_MODEL_COST_MAP=True
WORKDIR /app
COPY pyproject.toml README.md ./
COPY tutelage ./tutelage
RUN pip install --no-cache-dir .
COPY tutelage.toml examples ./config/
VOLUME ["/data"]
ENV TUTELAGE_DATA_DIR=/data
ENTRYPOINT ["tutelage"]
CMD ["worker", "--config", "/app/config/tutelage.toml"]
