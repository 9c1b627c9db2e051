# Berth in a container: the API and controllers, talking to the host's Docker engine through
# its socket. Data (embedded Postgres, TLS, keys, kubeconfig) lives in /var/lib/berth.
FROM node:20-bookworm-slim
WORKDIR /opt/berth
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force
COPY bin ./bin
COPY src ./src
COPY crds ./crds
COPY tsconfig.json ./
ENV BERTH_DATA_DIR=/var/lib/berth NODE_ENV=production
VOLUME ["/var/lib/berth"]
EXPOSE 7443
ENTRYPOINT ["node", "bin/berth.js"]
CMD ["serve", "--listen", "0.0.0.0:7443"]
