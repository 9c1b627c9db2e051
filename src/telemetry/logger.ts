import winston from "winston";

/** JSON lines on stderr; controllers add kind/namespace/name/reconcileID through child loggers. */
export function createLogger(level = process.env.BERTH_LOG_LEVEL ?? "info"): winston.Logger {
  return winston.createLogger({
    level,
    format: winston.format.combine(winston.format.timestamp(), winston.format.json()),
    transports: [new winston.transports.Console({ stderrLevels: ["error", "warn", "info", "http", "verbose", "debug", "silly"] })],
  });
}
