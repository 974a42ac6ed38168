import './base.css';
import './env.css';
