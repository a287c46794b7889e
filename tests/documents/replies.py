# ruff: noqa: E501  (Markdown table rows as a model writes them)
"""Real-looking model replies for the document tests (what a small local model writes)."""

from __future__ import annotations

ADR = """## Context and Problem Statement

Sessions live in one SQLite file per user [S1]. A team server needs concurrent writers and
backups, which a single file does not give us.

## Decision Drivers

- concurrent writes from several users
- point-in-time backups

## Considered Options

- PostgreSQL 16
- keep SQLite

## Decision Outcome

Chosen option: "PostgreSQL 16", because it handles concurrent writers and has mature backups.

### Consequences

- Good, because several users can write at once.
- Bad, because operators must run a database server.

```mermaid
flowchart LR
  CLI[aiw CLI] --> API[Session service]
  API --> PG[(PostgreSQL)]
```

## Pros and Cons of the Options

### PostgreSQL 16

- Good, because it scales to many writers.
- Bad, because it is one more service.

### keep SQLite

- Good, because nothing changes.
- Bad, because writers block each other.
"""

NFR_BAD = """## Scope

The shop API.

## Requirements

| ID | Characteristic | Requirement | Target | Verification |
|----|----|----|----|----|
| NFR-1 | Performance efficiency | The API is fast | fast | - |
| NFR-2 | Reliability | The API is up | always | - |

## Open Issues

- none
"""

NFR_GOOD = """## Scope

The shop API, for performance efficiency and reliability.

## Requirements

| ID | Characteristic | Requirement | Target | Verification |
|----|----|----|----|----|
| NFR-1 | Performance efficiency | Checkout answers quickly | 95th percentile under 300 ms at 20 requests per second | load test in CI with k6 |
| NFR-2 | Reliability | The API stays available | 99.5 % per month | uptime monitor with alerts |

## Open Issues

- Peak load in December is unknown.
"""

BROKEN_MERMAID = """## Overview

The invoice module computes totals.

## Class Diagram

```mermaid
classDiagram
  class Invoice {
    +total(
  Invoice --> --> Line
```

One class per concept.

## Sequence Diagram

```mermaid
sequenceDiagram
  participant U as User
  participant S as Shop
  U->>S: checkout
  S-->>U: invoice
```
"""

FIXED_CLASS = """```mermaid
classDiagram
  class Invoice {
    +total() float
  }
  class Line
  Invoice "1" --> "*" Line
```
"""

API = """## Overview

The shop API serves items at http://localhost:8000 [S1].

## Authentication

Clients send a bearer token.

## Endpoints

### GET /items/{item_id}

Returns one item [S1].

### POST /items

Creates an item.

## Errors

- 404 when the item does not exist
"""

C4 = """## System Context

A shopper uses the shop; the shop stores orders in PostgreSQL.

## Containers

| Container | Technology | Responsibility |
|---|---|---|
| web | Python, FastAPI | serves the API |
| db | PostgreSQL 16 | stores orders |

## Container Diagram

```mermaid
C4Container
  title Shop
  Person(user, "Shopper")
  Container(web, "web", "Python, FastAPI", "serves the API")
  ContainerDb(db, "db", "PostgreSQL 16", "stores orders")
  Rel(user, web, "uses")
  Rel(web, db, "reads/writes")
```
"""

# what Qwen2.5-Coder-1.5B wrote for an SRS: 'shall' sentences grouped under numbered headings,
# no FR-n identifiers, no diagram (bench/documents.py, 2026-12-03)
SRS_NO_IDS = """## Purpose and Scope
The shop API lets shoppers browse items and place orders. Payment is outside its scope.

## Stakeholders
- **Shoppers**: browse items and order them.
- **Operators**: deploy and monitor the API.

## Functional Requirements
1. **Items**:
   - Users shall be able to list items.
   - The system shall return one item by its id.

2. **Orders**:
   - Users shall be able to create an order.

## Non-Functional Requirements
- NFR-1: Performance: 95th percentile of responses under 300 ms.

## Constraints
- Python 3.11 and PostgreSQL 16.
"""

SRS_FR_FIX = """- FR-1: The system shall list the items in stock.
- FR-2: The system shall return one item by its id.
- FR-3: The system shall create an order for a shopper.
"""

SRS_DIAGRAM = """```mermaid
flowchart LR
  Shopper[Shopper] --> API[Shop API]
  API --> DB[(PostgreSQL)]
```
"""

# an ADR whose headings are the short forms a small model writes
ADR_SHORT_HEADINGS = (
    ADR.replace("## Context and Problem Statement", "## Context")
    .replace("## Considered Options", "## Options")
    .replace("## Decision Outcome", "## Decision")
)
