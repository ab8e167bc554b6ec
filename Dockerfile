# One image for the collector and the worker (and the all-in-one).
FROM node:20-bookworm-slim
WORKDIR /app
ENV NODE_ENV=production
COPY package.json package-lock.json ./
RUN npm ci && npm cache clean --force
COPY tsconfig.json ./
COPY src ./src
COPY workers ./workers
COPY schemas ./schemas
COPY scripts ./scripts
COPY examples ./examples
USER node
EXPOSE 8080 8081
CMD ["npx", "tsx", "src/app/collector-main.ts"]
